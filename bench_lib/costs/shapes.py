"""What a compiler does with the shapes a plan produces, predicted from the plan alone.

A plan's batches have a number of distinct shapes (``distinct_shapes``, from the
first epoch's plan: one for every static-shape strategy, one per bucket for
``pad-bucket``, about one per step for unpadded batches). From it, and from how
``torch.compile`` (torch 2.2) treats a new shape:

- ``compile`` (``dynamic=None``, the default): the first shape compiles a graph
  specialised to it; the first different shape recompiles once with the
  changed sizes made symbolic ("automatic dynamic shapes"), and that graph
  serves every later shape: 1 compile, or 2 when the plan has two shapes or more.
- ``compile`` with automatic dynamic shapes off (``mark_static``, or a backend that
  needs static shapes, as XLA's does): one compile per shape until dynamo's
  ``cache_size_limit`` (8), then the frame runs eagerly for every shape not yet
  compiled (``eager_fallback``).
- ``compile-dynamic`` (``dynamic=True``): one compile, symbolic from the start.
- CUDA graphs (``mode="reduce-overhead"``): the compiles above, and one graph
  recorded per distinct shape (its memory pool kept for each), replayed after.

``tests/costs/test_shapes.py`` checks the predictions against every compiled cell of the
committed ``results/compile-reference`` run.
"""

from __future__ import annotations

__all__ = ["CACHE_SIZE_LIMIT", "predict_compiles"]

#: torch._dynamo.config.cache_size_limit in torch 2.2: compiled versions kept per frame.
CACHE_SIZE_LIMIT = 8


def predict_compiles(distinct_shapes: int, execution: str, cache_size_limit: int = CACHE_SIZE_LIMIT) -> dict:
    """Compiles, recompiles, CUDA graph recordings and eager fallback for a plan of
    ``distinct_shapes`` shapes under ``execution`` (``eager``, ``compile``, ``compile-dynamic``,
    ``cudagraphs``), with automatic dynamic shapes (``compiles``) and without (``static_compiles``)."""
    if distinct_shapes < 1:
        raise ValueError(f"a plan has at least one shape (got distinct_shapes={distinct_shapes})")
    static = min(distinct_shapes, cache_size_limit)
    out = {"distinct_shapes": distinct_shapes, "compiles": 0, "recompiles": 0, "cuda_graph_recordings": 0,
           "static_compiles": 0, "static_eager_fallback": False}
    if execution == "eager":
        return out
    if execution not in ("compile", "compile-dynamic", "cudagraphs"):
        raise ValueError(f"unknown execution {execution!r}")
    compiles = 1 if execution == "compile-dynamic" or distinct_shapes == 1 else 2
    out.update(compiles=compiles, recompiles=compiles - 1, static_compiles=static,
               static_eager_fallback=distinct_shapes > cache_size_limit)
    if execution == "cudagraphs":
        out["cuda_graph_recordings"] = distinct_shapes
    return out
