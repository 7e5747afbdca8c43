"""Projected step times on devices bench_lib has not run on, from a cell's counted costs.

Everything here is a *projection*: counted operators (:mod:`bench_lib.costs.count`) priced by a
device profile (``devices.toml``: vendor peaks, and per-operator overheads that are stated
assumptions), never a measurement. The model:

- each kind of operator (matrix products, gathers, scatter-adds, reductions, copies, element-wise;
  :data:`~bench_lib.costs.count.KINDS`) runs at its bound, ``max(FLOPs / FLOP rate, bytes /
  byte rate)`` of its kind's rates: on a GPU, the vendor's FP32 peak and memory bandwidth for every
  kind; on a CPU, rates measured per kind at several operator sizes (``benchmarks/projection.py``),
  read at the size of operator that the step's average byte of that kind passes through (caches
  make small operators faster per byte), plus, where the profile measured one, the penalty of the
  denormal share of the work (a CPU without flush-to-zero; a GPU has none);
- **eager on a GPU**: the host enqueues operators asynchronously at ``eager_op_s`` each, so a
  step takes the longer of the host's time (operators x ``eager_op_s``) and the device's work;
- **CUDA graphs** (static shapes, one replay per step): the device's work plus ``graph_op_s``
  per kernel node and one ``graph_launch_s``;
- **a CPU** (profile measured by ``benchmarks/projection.py``): no overlap, the work plus the
  per-operator overhead.

Memory: a budget fits when the step's peak live tensors plus what lives across steps (parameters,
Adam's moments, the batch) fit the device's capacity.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from bench_lib.costs.count import KINDS
from bench_lib.costs.shapes import CACHE_SIZE_LIMIT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DeviceProfile", "DEVICES", "load_profiles", "work_s", "project_step_s", "gpu_ops",
           "project_cell", "fits"]

#: The shipped device profiles.
DEVICES = Path(__file__).with_name("devices.toml")

EXECUTIONS = ("eager", "cudagraphs", "cpu")


@dataclass(frozen=True)
class DeviceProfile:
    key: str
    name: str
    flops_fp32: float
    bandwidth: float
    memory_gib: float
    eager_op_s: float
    graph_op_s: float = 0.0
    graph_launch_s: float = 0.0
    flops_tf32: float = 0.0
    source: str = ""
    overhead_source: str = ""
    #: where a kind runs at other rates than the peaks (a measured CPU): {kind: (FLOP/s, bytes/s)},
    #: or {kind: [(bytes per operator, FLOP/s, bytes/s), ...]} measured at several sizes
    rates: dict | None = None
    #: {kind: (seconds per denormal FLOP, seconds per denormal byte)}: the extra time of the
    #: denormal share of a kind's work (a CPU without flush-to-zero); None: none (GPUs)
    denormal_s: dict | None = None

    def rate(self, kind: str, bytes_per_op: float | None = None) -> tuple[float, float]:
        """(FLOP/s, bytes/s) of operators of ``kind`` that move ``bytes_per_op`` each (rates
        measured at several sizes are interpolated in log size, and held beyond the sizes
        measured)."""
        if not self.rates or kind not in self.rates:
            return self.flops_fp32, self.bandwidth
        rate = self.rates[kind]
        if not isinstance(rate[0], (list, tuple)):
            return tuple(rate)
        return _interpolate(sorted(rate), bytes_per_op)


def _interpolate(points: list, size: float | None) -> tuple[float, float]:
    """(FLOP/s, bytes/s) at ``size`` between ``points`` ((size, FLOP/s, bytes/s), sorted), linear in
    log size."""
    if size is None or size <= points[0][0]:
        return points[0][1], points[0][2]
    for (s0, f0, b0), (s1, f1, b1) in zip(points, points[1:]):
        if size <= s1:
            w = math.log(size / s0) / math.log(s1 / s0)
            return f0 + w * (f1 - f0), b0 + w * (b1 - b0)
    return points[-1][1], points[-1][2]


def load_profiles(path: Path = DEVICES) -> dict[str, DeviceProfile]:
    """The profiles of ``path`` by key; a missing field or a figure without its source is a
    ``ValueError``."""
    data = tomllib.loads(Path(path).read_text())
    out = {}
    for key, table in data.items():
        try:
            profile = DeviceProfile(key=key, **table)
        except TypeError as err:
            raise ValueError(f"{path}: [{key}]: {err}") from None
        if not profile.source or not profile.overhead_source:
            raise ValueError(f"{path}: [{key}] needs a source and an overhead_source for its "
                             f"figures")
        out[key] = profile
    return out


def work_s(costs_by_kind: dict, profile: DeviceProfile) -> float:
    """Seconds of work of a step: each kind of operator at its bound, plus the profile's penalty on
    its denormal work (``costs_by_kind``: a record's ``{kind: [operators, FLOPs, bytes, ...]}``, the
    tally of :data:`~bench_lib.costs.count.TALLY`; records made before the denormal counts have the
    first three)."""
    unknown = set(costs_by_kind) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds of operator {sorted(unknown)}; valid: {', '.join(KINDS)}")
    total = 0.0
    for kind, tally in costs_by_kind.items():
        ops, flops, moved = tally[:3]
        size = tally[5] / moved if len(tally) > 5 and moved else moved / ops if ops else None
        flop_rate, byte_rate = profile.rate(kind, size)
        total += max(flops / flop_rate, moved / byte_rate)
        if profile.denormal_s and kind in profile.denormal_s and len(tally) > 4:
            per_flop, per_byte = profile.denormal_s[kind]
            total += max(tally[3] * per_flop, tally[4] * per_byte)
    return total


def project_step_s(costs_by_kind: dict, ops: float, profile: DeviceProfile,
                   execution: str = "eager") -> float:
    """Projected seconds per training step (see the module docstring) from a record's
    ``costs_by_kind`` and ``ops_per_step``."""
    work = work_s(costs_by_kind, profile)
    if execution == "eager":
        return max(work, ops * profile.eager_op_s)
    if execution == "cudagraphs":
        return work + ops * profile.graph_op_s + profile.graph_launch_s
    if execution == "cpu":
        return work + ops * profile.eager_op_s
    raise ValueError(f"unknown execution {execution!r}; valid: {', '.join(EXECUTIONS)}")


def gpu_ops(counted) -> float:
    """Operators per step as a GPU runs it: a record's (or ``counted_costs``') counted operators
    with Adam's ``foreach`` step in place of the CPU's loop over the parameters."""
    return counted["ops_per_step"] - counted["ops_optimizer"] + counted["ops_optimizer_foreach"]


def project_cell(counted, distinct_shapes: int, profile: DeviceProfile) -> tuple[float, float]:
    """(eager, CUDA graphs) projected seconds per step of a counted cell as a GPU runs it
    (:func:`gpu_ops`); CUDA graphs NaN for a plan of more than ``CACHE_SIZE_LIMIT`` shapes (a graph
    recorded per shape)."""
    ops = gpu_ops(counted)
    eager = project_step_s(counted["costs_by_kind"], ops, profile, "eager")
    if distinct_shapes > CACHE_SIZE_LIMIT:
        return eager, float("nan")
    return eager, project_step_s(counted["costs_by_kind"], ops, profile, "cudagraphs")


def fits(peak_tensor_mib: float, resident_mib: float, profile: DeviceProfile) -> bool:
    """Whether a step's peak live tensors and what lives across steps fit the device's memory."""
    return (peak_tensor_mib + resident_mib) / 1024 <= profile.memory_gib
