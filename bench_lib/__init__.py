"""bench_lib: how should I batch my graphs?

The suite runs one GNN under several batching strategies (naive padding,
dynamic batching, packing) and measures memory, throughput and
time-to-accuracy. Data flows one way::

    source -> GraphStore -> strategy plan -> collate -> GraphBatch -> model

The names of ``__all__`` are the stable face (``docs/api.md``): the strategies, models and datasets
with their registries, the samplers for a user's own loop, and the suite's, report's and advise's
entry points. Each is imported on first use (``import bench_lib`` imports no torch); every other
name of the package may change between releases.
"""

import importlib as _importlib
import os as _os

# ogb (imported lazily by the molecule loaders) checks PyPI for a newer
# version in a thread at import; offline that only produces a warning.
_os.environ.setdefault("OUTDATED_IGNORE", "1")

__version__ = "0.1.0"

#: stable name -> (module, name there)
_STABLE = {
    # strategies: the batch contract and the registry
    # (plugins: the bench_lib.strategies entry points)
    "STRATEGIES": ("bench_lib.strategies", "STRATEGIES"),
    "Strategy": ("bench_lib.strategies", "Strategy"),
    "EpochPlanner": ("bench_lib.strategies", "EpochPlanner"),
    "GraphBatch": ("bench_lib.strategies", "GraphBatch"),
    "BatchShape": ("bench_lib.strategies", "BatchShape"),
    # models (plugins: the bench_lib.models entry points)
    "MODELS": ("bench_lib.models", "MODELS"), "Model": ("bench_lib.models", "Model"),
    # datasets
    "DATASETS": ("bench_lib.data", "DATASETS"), "GraphStore": ("bench_lib.data", "GraphStore"),
    "load_dataset": ("bench_lib.data", "load_dataset"),
    "DatasetSource": ("bench_lib.data", "DatasetSource"), "Build": ("bench_lib.data", "Build"),
    # a user's own loop
    "BatchSampler": ("bench_lib.loaders", "BatchSampler"),
    "sizes_of": ("bench_lib.loaders", "sizes_of"),
    "PygPadCollater": ("bench_lib.loaders", "PygPadCollater"),
    "DglPadCollater": ("bench_lib.loaders", "DglPadCollater"),
    "GraphBatchCollater": ("bench_lib.loaders", "GraphBatchCollater"),
    # entry points: the suite (argv -> exit status), a report from records, a comparison of two runs
    # (advise's is bench_lib.advise.advise: the name bench_lib.advise is its package)
    "run_suite": ("bench_lib.suite", "main"), "write_report": ("bench_lib.report", "write_report"),
    "compare_runs": ("bench_lib.report.compare", "compare_runs"),
}

__all__ = ["__version__", *_STABLE]


def __getattr__(name: str):
    if name in _STABLE:
        module, attribute = _STABLE[name]
        value = getattr(_importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bench_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
