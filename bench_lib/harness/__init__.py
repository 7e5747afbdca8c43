"""Running cells and measuring them.

- :mod:`.cell`: what a cell is (``CellSpec``, ``TrainSettings``) and what its record holds
  (``METRICS``);
- :mod:`.fairness`: the budgets of the fairness views and each strategy's parameters under them;
- :mod:`.runner`: one worker process per cell, cells of a group timed in turns, records appended;
- :mod:`.worker` and :mod:`.train`: one cell's process (setup, timed windows, time to accuracy,
  memory);
- :mod:`.measure`: clocks, memory and machine-load readings;
- :mod:`.planning`: planning-only artefacts a suite stores beside its records;
- :mod:`.environment`: what a measurement was made on.
"""
