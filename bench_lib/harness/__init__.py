"""Running cells and measuring them.

What a cell is and what its record holds (``CellSpec``, ``METRICS``) is the suite's vocabulary,
:mod:`bench_lib.schema`; the budgets of the fairness views sit beside the strategies
(:mod:`bench_lib.strategies.fairness`).

- :mod:`.runner`: one worker process per cell, cells of a group timed in turns, records appended;
- :mod:`.worker` and :mod:`.train`: one cell's process (setup, timed windows, time to accuracy,
  memory);
- :mod:`.measure`: clocks, memory and machine-load readings;
- :mod:`.planning`: planning-only artefacts a suite stores beside its records;
- :mod:`.environment`: what a measurement was made on.
"""
