"""What a compiler does with the shapes a plan produces, predicted from the plan alone, for a given
torch.

A plan's batches have a number of distinct shapes (``distinct_shapes``, from the
first epoch's plan: one for every static-shape strategy, one per bucket for
``pad-bucket``, about one per step for unpadded batches). From it, and from how
``torch.compile`` treats a new shape:

- ``compile`` (``dynamic=None``, the default): the first shape compiles a graph
  specialised to it; the first different shape recompiles once with the
  changed sizes made symbolic ("automatic dynamic shapes"), and that graph
  serves every later shape that changes only those: 1 compile, 2 when the plan has
  two shapes or more, and one more each time a later batch first changes a dimension
  that had stayed the same (an epoch's short last batch, with fewer graphs:
  ``shape_changes``).
- ``compile-static`` (``dynamic=False``; also ``mark_static``, or a backend that
  needs static shapes, as XLA's does): one compile per shape until dynamo's
  ``recompile_limit`` (8, ``cache_size_limit`` in older torch), then the frame runs
  eagerly for every shape not yet compiled (``eager_fallback``).
- ``compile-marked`` (``mark_dynamic`` within the plan's bounds): one compile,
  symbolic from the start (a plan of one shape marks nothing and compiles once).
- ``compile-dynamic`` (``dynamic=True``): one compile, symbolic from the start.
- CUDA graphs (``mode="reduce-overhead"``): the compiles of ``compile``, and one graph
  recorded per distinct shape (its memory pool kept for each), replayed after.

How the rule changed after torch 2.2: inductor's CPU code sums float32 reductions
longer than 4096 elements in chunks (cascade summation, pytorch PR 156296, mid-2025;
applied here from torch 2.9, the first release after it). Whether a symbolic length
exceeds 4096 is decided when the graph is compiled, as a guard (``4097 <=
batch.senders.size()[0]``), so a plan whose node or edge slots lie on both sides of
4096 compiles once more on the CPU: the unpadded ``dynamic`` cell on qm9
(3,914-5,772 edges a step) compiles 3 times on torch 2.14.1 where torch 2.2.1
compiled it twice (``dynamic=True``: twice, where 2.2.1 compiled once). Plans whose
sizes all lie on one side compile as before. The CUDA backend (triton) has no such
guard; :func:`predict_compiles` adds it on the CPU only.

``tests/costs/test_shapes.py`` checks the predictions against every compiled cell of each
committed compile reference, with the torch that reference records.
"""

from __future__ import annotations

__all__ = ["CACHE_SIZE_LIMIT", "CASCADE_SUM_CHUNK", "CASCADE_SUM_FROM", "guard_splits",
           "predict_compiles", "torch_release"]

#: torch._dynamo.config.cache_size_limit (``recompile_limit``): compiled versions kept per frame (8
#: in torch 2.2 and in 2.14).
CACHE_SIZE_LIMIT = 8
#: Reductions longer than this are summed in chunks by inductor's CPU code, decided by a guard.
CASCADE_SUM_CHUNK = 4096
#: The first torch release taken to carry that guard.
CASCADE_SUM_FROM = (2, 9)


def torch_release(version: str | None = None) -> tuple[int, int]:
    """``(major, minor)`` of a torch version string (``2.14.1+cu130`` -> ``(2, 14)``); the installed
    torch's where None."""
    if version is None:
        import torch

        version = torch.__version__
    parts = str(version).split("+", 1)[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise ValueError(f"not a torch version: {version!r}") from None


def guard_splits(device: str = "cpu", torch_version: str | None = None) -> tuple[int, ...]:
    """The slot counts at which ``torch_version`` (default: the installed torch) guards a symbolic
    size on ``device``: the cascade-sum chunk on the CPU from torch 2.9, none elsewhere.
    ``compile-marked`` cuts its ``mark_dynamic`` ranges there."""
    if device == "cpu" and torch_release(torch_version) >= CASCADE_SUM_FROM:
        return (CASCADE_SUM_CHUNK,)
    return ()


def _straddles(span) -> bool:
    """Whether a ``(smallest, largest)`` slot count lies on both sides of the cascade-sum chunk."""
    return span is not None and span[0] <= CASCADE_SUM_CHUNK < span[1]


def predict_compiles(distinct_shapes: int, execution: str, cache_size_limit: int = CACHE_SIZE_LIMIT,
                     *,
                     torch_version: str | None = None, device: str = "cpu", node_slots=None,
                     edge_slots=None, shape_changes: int | None = None) -> dict:
    """Compiles, recompiles, CUDA graph recordings and eager fallback for a plan of
    ``distinct_shapes`` shapes under ``execution`` (one of :data:`bench_lib.schema.EXECUTIONS`),
    as ``torch_version`` (default: the installed torch) compiles them on ``device``;
    ``static_compiles`` and ``static_eager_fallback`` say what ``compile-static`` would do, whatever
    the execution. ``node_slots``/``edge_slots``: the plan's ``(smallest, largest)`` slots of a
    step, for the cascade-sum guard of newer torch on the CPU (None: not known, no guard
    counted). ``shape_changes``: the plan's recompiles under automatic dynamic shapes
    (:meth:`bench_lib.strategies.base.Plan.shape_changes`; None: not known, taken as one change
    when the plan has two shapes or more)."""
    if distinct_shapes < 1:
        raise ValueError(f"a plan has at least one shape (got distinct_shapes={distinct_shapes})")
    static = min(distinct_shapes, cache_size_limit)
    fallback = distinct_shapes > cache_size_limit
    out = {"distinct_shapes": distinct_shapes, "compiles": 0, "recompiles": 0,
           "cuda_graph_recordings": 0, "eager_fallback": False,
           "static_compiles": 0, "static_eager_fallback": False}
    if execution == "eager":
        return out
    if execution not in ("compile-static", "compile", "compile-marked", "compile-dynamic",
                         "cudagraphs"):
        raise ValueError(f"unknown execution {execution!r}")
    out.update(static_compiles=static, static_eager_fallback=fallback)
    if execution == "compile-static":
        out.update(compiles=static, recompiles=static - 1, eager_fallback=fallback)
        return out
    symbolic = execution in ("compile-dynamic", "compile-marked")
    changes = (shape_changes if shape_changes is not None else int(distinct_shapes > 1))
    compiles = 1 if symbolic or distinct_shapes == 1 else 1 + changes
    # the first symbolic graph guards on the side of 4096 its sizes lie; a later shape on the other
    # side compiles once more (compile: the second graph is the first symbolic one; compile-dynamic:
    # the first; compile-marked: its range is cut there, one compile per part)
    if distinct_shapes > 1 and CASCADE_SUM_CHUNK in guard_splits(device, torch_version):
        compiles += sum(_straddles(span) for span in (node_slots, edge_slots))
    out.update(compiles=compiles, recompiles=compiles - 1)
    if execution == "cudagraphs":
        out["cuda_graph_recordings"] = distinct_shapes
    return out
