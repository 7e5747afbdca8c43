"""The input pipeline: batches built inline, or ahead of the step in the background.

``prefetch = 0`` builds each batch when the step asks for it (the build is
on the step's critical path). ``prefetch = k > 0`` keeps up to ``k`` batches
built ahead, in a background thread (``prefetch_with = "thread"``) or in a
``torch.utils.data`` worker process (``"process"``), while the step
computes. For a GPU the background also pins the batch (page-locked host
memory), so that the step's copy to the device is asynchronous
(``non_blocking``).

Every batch comes with what it cost to build (wherever it was built) and
the step measures how long it waited for it: ``1 - wait / build`` is the
share of the build the pipeline hid behind compute.

Example::

    source = BatchSource(lambda: stream, prefetch=2, mode="thread")
    batch, ops, build_s = source.next()
    ...
    source.close()
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator

import torch

from bench_lib.strategies.batch import GraphBatch

from bench_lib.schema import PREFETCH_MODES

__all__ = ["BatchSource"]



def _build_one(batches: Iterator[GraphBatch], pin: bool, make_ops: Callable | None):
    t = time.perf_counter()
    batch = next(batches)
    if pin:
        batch = batch.pin_memory()
    ops = make_ops(batch) if make_ops is not None else None
    return batch, ops, time.perf_counter() - t


class _Stream(torch.utils.data.IterableDataset):
    """The endless batch stream as a ``torch.utils.data`` dataset (for worker processes)."""

    def __init__(self, make_batches: Callable[[], Iterator[GraphBatch]]) -> None:
        self.make_batches = make_batches

    def __iter__(self):
        batches = self.make_batches()
        while True:
            batch, _, build_s = _build_one(batches, False, None)
            yield batch, build_s


def _identity(item):
    return item


class BatchSource:
    """Batches of an endless stream, built inline or ``prefetch`` ahead.

    Args:
      make_batches: returns the batch iterator (called once, in the builder).
      prefetch: batches built ahead (0: inline).
      mode: ``thread`` or ``process`` (ignored when ``prefetch`` is 0).
      pin: pin batches in page-locked memory (for a CUDA device).
      make_ops: ``batch -> ops`` built with the batch (the ``DGLGraph`` of a
        CPU cell), or None to build them in the step.
    """

    def __init__(self, make_batches: Callable[[], Iterator[GraphBatch]], prefetch: int = 0,
                 mode: str = "thread",
                 pin: bool = False, make_ops: Callable | None = None) -> None:
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0 (got {prefetch})")
        if mode not in PREFETCH_MODES:
            raise ValueError(f"prefetch_with must be one of {', '.join(PREFETCH_MODES)} (got "
                             f"{mode!r})")
        self.prefetch, self.mode, self.pin = prefetch, mode, pin
        self.make_ops = make_ops
        self._closed = False
        if prefetch == 0:
            self._batches = make_batches()
        elif mode == "thread":
            self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._produce, args=(make_batches,), daemon=True,
                                            name="bench_lib-prefetch")
            self._thread.start()
        else:
            self.make_ops = None  # operators are not sent between processes; the step builds them
            loader = torch.utils.data.DataLoader(_Stream(make_batches), batch_size=None,
                                                 num_workers=1,
                                                 prefetch_factor=prefetch, pin_memory=pin,
                                                 collate_fn=_identity)
            self._iter = iter(loader)

    def _produce(self, make_batches) -> None:
        try:
            batches = make_batches()
            while not self._stop.is_set():
                item = _build_one(batches, self.pin, self.make_ops)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as err:  # handed to the step, which raises it
            self._queue.put(err)

    def next(self) -> tuple[GraphBatch, object, float]:
        """``(batch, ops or None, build seconds)`` of the next batch."""
        if self._closed:
            raise RuntimeError("BatchSource is closed")
        if self.prefetch == 0:
            return _build_one(self._batches, self.pin, self.make_ops)
        if self.mode == "thread":
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            return item
        batch, build_s = next(self._iter)
        return batch, None, build_s

    def close(self) -> None:
        """Stop the background builder (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.prefetch and self.mode == "thread":
            self._stop.set()
            self._thread.join(timeout=10)
        elif self.prefetch:
            self._iter._shutdown_workers()
            del self._iter
