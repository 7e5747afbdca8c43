"""Counted costs of a training step, from the operators it dispatches (no clock).

A :class:`CostCounter` is a ``TorchDispatchMode``: every ATen operator that a
step runs passes through it, in forward, backward and the optimiser, and it
adds up what the operator must do whatever the machine:

- **operators launched**: operators that do work (a kernel on a GPU). Views
  and metadata operators (``view``, ``t``, ``expand``, ``detach``, ...) and bare
  allocations (``empty``) launch nothing and are not counted; of those
  counted, **syncs** read a value back to the host (``.item()``, ``nonzero``):
  on an accelerator the step waits for the device there.
- **FLOPs**: matrix products and convolutions by ``torch.utils.flop_counter``'s
  formulas (2 per multiply-add); the operators it does not count by our rules
  (:data:`RULES` below): one per output element for element-wise operators,
  one per input element for reductions, one per source element for the
  scatter-adds of message passing (``index_add``, ``scatter_add``,
  ``index_put`` with accumulation), none for gathers (``index_select``,
  ``gather``, ``embedding``), fills and copies, which move data only.
- **bytes read and written**: per operator, the bytes of its tensor inputs and
  outputs; a gather reads the rows it selects (its output's bytes) and its
  index, not the whole table; a scatter-add reads and writes the destination
  rows it touches (its source's bytes) and reads its index and source;
  fills write only, ``copy_`` reads its source. It is what an unfused execution moves through memory
  at most: an upper bound where a compiler fuses operators, exact for an eager GPU step's kernels.
- **denormal work**: per operator, its FLOPs and bytes times the largest share, over its operands
  (inputs and outputs), of an operand's 64-byte vectors that hold a denormal number (nonzero, below
  the type's smallest normal one). A CPU that does not flush denormals to zero runs every vector
  instruction that meets one in microcode, tens of times slower: a Gaussian distance expansion
  (SchNet's) that underflows at its tails puts one in nearly every row. GPUs run them at full speed.
  Data and weights decide it, so it is counted, not modelled.
- **peak live tensor bytes**: the largest total size of the tensors the step
  itself holds at once (activations kept for backward, gradients, optimiser
  temporaries), tracked by each tensor storage's lifetime; the parameters,
  the optimiser's state and the batch, which live across steps, are apart
  (``resident_bytes``).

Counts depend only on the operators and their shapes, so the same plan gives
the same numbers on any machine (``tests/costs/test_count.py`` checks this in
two processes, and each counter against a hand computation on a tiny batch).
They count what the plain-torch operators do (the ``torch`` backend, which a
GPU or ``torch.compile`` runs); DGL's sparse kernels run outside ATen and
cannot be counted this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

__all__ = ["PhaseCosts", "StepCosts", "CostCounter", "count_step", "KINDS", "RULES", "TALLY"]

aten = torch.ops.aten


def _ops(*names: str) -> frozenset:
    """The ATen operator packets of ``names`` that this torch has."""
    return frozenset(getattr(aten, n) for n in names if hasattr(aten, n))


#: Bare allocations: live memory, no kernel.
_ALLOCATIONS = _ops("empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided")

#: Metadata operators (besides every view): no kernel, no new memory.
_FREE = _ops("detach", "alias", "lift_fresh", "_unsafe_view", "t", "expand", "slice", "select",
             "unsqueeze",
             "squeeze", "permute", "transpose", "as_strided", "split", "split_with_sizes", "unbind",
             "narrow",
             "_reshape_alias", "view")

#: Gathers: they move the rows they select and compute nothing.
_GATHERS = _ops("index_select", "gather", "embedding", "index")

#: Scatter-adds: one add per source element into the destination rows (index_put: when
#: accumulating).
_SCATTERS = _ops("index_add", "index_add_", "scatter_add", "scatter_add_", "index_put",
                 "index_put_",
                 "_index_put_impl_", "scatter_reduce", "scatter_reduce_")
_PUTS = _ops("index_put", "index_put_", "_index_put_impl_")

#: Fills and copies: they write (copies read their source) and compute nothing.
_FILLS = _ops("zero_", "fill_", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like",
              "new_zeros",
              "new_ones", "new_full", "scalar_tensor", "arange", "fill")
_COPIES = _ops("copy_", "_to_copy", "clone", "cat", "stack", "constant_pad_nd", "repeat",
               "_copy_from",
               "repeat_interleave", "masked_select", "nonzero", "lift_fresh_copy")

#: Reads a value back to the host: on an accelerator the step waits for the device here.
_SYNCS = _ops("_local_scalar_dense", "item", "nonzero", "masked_select", "repeat_interleave")

#: Reductions: one operation per input element.
_REDUCTIONS = _ops("sum", "mean", "amax", "amin", "max", "min", "prod", "norm",
                   "linalg_vector_norm", "var",
                   "std", "var_mean", "logsumexp", "any", "all", "argmax", "argmin", "cumsum")

#: The FLOP rules for what ``torch.utils.flop_counter`` does not count, in words (the report quotes
#: them).
RULES = ("matrix products and convolutions: torch.utils.flop_counter (2 per multiply-add); "
         "element-wise operators: 1 per output element; reductions: 1 per input element; "
         "scatter-adds (index_add, scatter_add, index_put with accumulate): 1 per source element; "
         "gathers (index_select, gather, embedding, index), fills and copies: 0")


#: What a phase tallies per kind of operator: operators, FLOPs, bytes read + written, the FLOPs and
#: bytes weighted by the operator's denormal share, and the sum of each operator's bytes squared
#: (over the bytes: the size of operator that the average byte passes through, at which a CPU
#: profile's rates are read).
TALLY = ("ops", "flops", "bytes", "denormal_flops", "denormal_bytes", "bytes_squared")


#: Bytes of a CPU's vector register (AVX-512): one denormal element slows the whole vector's
#: instruction.
VECTOR_BYTES = 64


def _denormal_share(tensors: list[torch.Tensor]) -> float:
    """The largest share, over the floating-point ``tensors``, of a tensor's 64-byte vectors
    (:data:`VECTOR_BYTES`: 16 float32 elements, in memory order) that hold a denormal element: an
    instruction is slow when any of its operands' vectors holds one (0 without any)."""
    share = 0.0
    for t in tensors:
        if (t.dtype not in (torch.float32, torch.float64) or not t.numel()
                or t.device.type == "meta"):
            continue
        size = t.detach().abs().reshape(-1)
        mask = (size > 0) & (size < torch.finfo(t.dtype).tiny)
        width = VECTOR_BYTES // t.element_size()
        vectors = -(-mask.numel() // width)
        mask = torch.nn.functional.pad(mask, (0, vectors * width - mask.numel()))
        share = max(share, int(mask.view(vectors, width).any(1).sum()) / vectors)
    return share


def _tensors(tree) -> list[torch.Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


@dataclass
class PhaseCosts:
    """What one phase of a step (forward, backward, optimiser) dispatched."""

    ops: int = 0
    syncs: int = 0
    flops: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    #: {kind: :data:`TALLY`} by kind of operator (:data:`KINDS`): what a projection prices, each
    #: kind at its own rate
    by_kind: dict = field(default_factory=dict, repr=False, compare=False)

    def add(self, other: "PhaseCosts") -> "PhaseCosts":
        summed = [getattr(self, f.name) + getattr(other,
                                                  f.name) for f in fields(self) if f.name
                  != "by_kind"]
        zero = [0] * len(TALLY)
        kinds = {k: [a + b for a, b in zip(self.by_kind.get(k, zero), other.by_kind.get(k, zero))]
                 for k in dict.fromkeys([*self.by_kind, *other.by_kind])}
        return PhaseCosts(*summed, by_kind=kinds)


@dataclass
class StepCosts:
    """One step's counted costs: per phase, and the peak of live tensor bytes over forward and
    backward (``peak_bytes``) and over the whole step (``peak_step_bytes``)."""

    forward: PhaseCosts = field(default_factory=PhaseCosts)
    backward: PhaseCosts = field(default_factory=PhaseCosts)
    optimizer: PhaseCosts = field(default_factory=PhaseCosts)
    peak_bytes: int = 0
    peak_step_bytes: int = 0

    @property
    def total(self) -> PhaseCosts:
        return self.forward.add(self.backward).add(self.optimizer)


class CostCounter(TorchDispatchMode):
    """Counts the operators dispatched while active; ``phase`` names where they go."""

    def __init__(self) -> None:
        super().__init__()
        self.costs = StepCosts()
        self.phase = "forward"
        self._live: dict[object, tuple[StorageWeakRef, int]] = {}
        self._live_bytes = 0

    # -- live tensor bytes ----------------------------------------------------------------
    def _release_dead(self) -> None:
        dead = [key for key, (ref, _) in self._live.items() if ref.expired()]
        for key in dead:
            self._live_bytes -= self._live.pop(key)[1]

    def _hold(self, outputs: list[torch.Tensor], inputs: list[torch.Tensor]) -> None:
        """Count the storages the operator created (not its inputs', which an in-place operator
        writes)."""
        given = {StorageWeakRef(t.untyped_storage()).cdata for t in inputs}
        for t in outputs:
            storage = t.untyped_storage()
            ref = StorageWeakRef(storage)
            held = self._live.get(ref.cdata)
            if ref.cdata in given or storage.nbytes() == 0 or (
                held is not None and not held[0].expired()):
                continue
            if held is not None:  # a storage freed within this operator, its address reused
                self._live_bytes -= held[1]
            self._live[ref.cdata] = (ref, storage.nbytes())
            self._live_bytes += storage.nbytes()
        self.costs.peak_step_bytes = max(self.costs.peak_step_bytes, self._live_bytes)
        if self.phase != "optimizer":
            self.costs.peak_bytes = max(self.costs.peak_bytes, self._live_bytes)

    # -- one operator ---------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self._release_dead()
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if func.namespace == "profiler":  # record_function markers, not operators
            return out
        outputs, inputs = _tensors(out), _tensors((args, kwargs))
        if packet in _ALLOCATIONS:
            self._hold(outputs, inputs)
            return out
        if packet in _FREE or func.is_view or (self.phase == "optimizer"
                                               and packet is aten._local_scalar_dense):
            # (the optimiser's .item() reads its step counter, kept on the host on every device)
            return out
        phase = getattr(self.costs, self.phase)
        phase.ops += 1
        phase.syncs += packet in _SYNCS
        flops = self._flops(packet, args, kwargs, out, inputs, outputs)
        read, written = self._bytes(packet, inputs, outputs)
        phase.flops += flops
        phase.bytes_read += read
        phase.bytes_written += written
        tally = phase.by_kind.setdefault(_kind(packet), [0] * len(TALLY))
        denormal = _denormal_share([*inputs, *outputs])
        tally[0] += 1
        tally[1] += flops
        tally[2] += read + written
        tally[3] += flops * denormal
        tally[4] += (read + written) * denormal
        tally[5] += (read + written) ** 2
        self._hold(outputs, inputs)
        return out

    @staticmethod
    def _flops(packet, args, kwargs, out, inputs, outputs) -> int:
        if packet in flop_registry:
            return int(flop_registry[packet](*args, **kwargs, out=out))
        if packet in _GATHERS or packet in _FILLS or packet in _COPIES or packet in _SYNCS:
            return 0
        if packet in _SCATTERS:
            if packet in _PUTS and not (args[3] if len(args) > 3
                                        else kwargs.get("accumulate", False)):
                return 0  # a plain put moves values and adds nothing
            return inputs[-1].numel()
        if packet in _REDUCTIONS:
            return inputs[0].numel() if inputs else 0
        return sum(t.numel() for t in outputs)  # element-wise (Adam's foreach operators too)

    @staticmethod
    def _bytes(packet, inputs, outputs) -> tuple[int, int]:
        if packet in _GATHERS:
            index = sum(_nbytes(t) for t in inputs[1:] if t.dtype in (torch.int64, torch.int32))
            moved = sum(_nbytes(t) for t in outputs)
            return moved + index, moved
        if packet in _SCATTERS:
            dest, rest = inputs[0], inputs[1:]
            source = _nbytes(rest[-1]) if rest else 0
            touched = min(source, _nbytes(dest))
            read = sum(_nbytes(t) for t in rest) + touched
            written = touched
            if not packet.__name__.endswith("_"):  # out of place: the destination is copied first
                read += _nbytes(dest)
                written += _nbytes(dest)
            return read, written
        if packet in _FILLS:
            return 0, sum(_nbytes(t) for t in outputs)
        if packet is aten.copy_:
            return _nbytes(inputs[1]), _nbytes(inputs[0])
        return sum(_nbytes(t) for t in inputs), sum(_nbytes(t) for t in outputs)


#: Element-wise operators that evaluate a special function (slow per element on a CPU's vector
#: units, at memory speed on a GPU's special-function units), forward and backward.
_SPECIAL = _ops("exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "sigmoid", "silu", "softplus",
                "erf", "pow",
                "sqrt", "rsqrt", "gelu", "elu", "silu_backward", "sigmoid_backward",
                "tanh_backward",
                "softplus_backward", "gelu_backward", "elu_backward", "exp2", "logsumexp", "atan2",
                "reciprocal")

#: Kinds of operators, priced apart by a projection: matrix products (torch's FLOP formulas),
#: gathers, scatter-adds, reductions, fills and copies, element-wise special functions, and the
#: other element-wise operators (everything else).
KINDS = ("matmul", "gather", "scatter", "reduction", "copy", "special", "elementwise")


def _kind(packet) -> str:
    if packet in flop_registry:
        return "matmul"
    if packet in _GATHERS:
        return "gather"
    if packet in _SCATTERS:
        return "scatter"
    if packet in _REDUCTIONS:
        return "reduction"
    if packet in _FILLS or packet in _COPIES or packet in _SYNCS:
        return "copy"
    if packet in _SPECIAL:
        return "special"
    return "elementwise"


def count_step(loss_fn, optimizer: torch.optim.Optimizer, batch) -> StepCosts:
    """The counted costs of one training step on ``batch``: ``loss_fn(batch)``, its backward,
    ``optimizer.step()`` (gradients set to None first, as the harness's steps do). It is a real
    step: the parameters move."""
    optimizer.zero_grad(set_to_none=True)
    counter = CostCounter()
    with counter:
        loss = loss_fn(batch)
        counter.phase = "backward"
        loss.backward()
        del loss
        counter.phase = "optimizer"
        optimizer.step()
    return counter.costs
