"""bench_lib: how should I batch my graphs?

The suite runs one GNN under several batching strategies (naive padding,
dynamic batching, packing) and measures memory, throughput and
time-to-accuracy. Data flows one way::

    source -> GraphStore -> strategy plan -> collate -> GraphBatch -> model

See ``bench_lib.data`` for the stores and ``bench_lib.strategies`` for the
batch contract and the strategy registry.
"""

import os as _os

# ogb (imported lazily by the molecule loaders) checks PyPI for a newer
# version in a thread at import; offline that only produces a warning.
_os.environ.setdefault("OUTDATED_IGNORE", "1")

__version__ = "0.1.0"
