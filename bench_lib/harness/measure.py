"""Readings a timed window needs: clocks, this process's memory, the machine's load.

Every reading is cheap (a ``/proc`` read at most) so that it can bracket a
window of a few tens of milliseconds. On a machine that is not Linux the
``/proc`` readings return NaN and the measurement goes on without them.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass

__all__ = ["Clock", "WindowReading", "rss_mib", "reset_peak_rss", "peak_rss_mib", "machine_busy_s",
           "minor_faults",
           "release_free_memory",
           "percentiles"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_mib() -> float:
    """Resident memory of this process now."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def reset_peak_rss() -> bool:
    """Reset the kernel's resident high-water mark (Linux >= 4.0), so that the
    next :func:`peak_rss_mib` is the peak since now; False when it could not."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """VmHWM of this process (since the last reset), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return maxrss_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def maxrss_mib(maxrss: int, platform: str = sys.platform) -> float:
    """``ru_maxrss`` in MiB: the kernel gives KiB on Linux and the BSDs, bytes on macOS."""
    return maxrss / (2**20 if platform == "darwin" else 1024)


def minor_faults() -> int:
    """Minor page faults of this process so far (memory touched for the first time)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def release_free_memory() -> bool:
    """Hand the C heap's free memory back to the kernel (glibc's ``malloc_trim``),
    so that a phase's resident peak starts from what is in use; False where
    there is no glibc."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def machine_busy_s() -> float:
    """CPU-seconds the whole machine has spent busy since boot (``/proc/stat``),
    NaN where there is no ``/proc/stat``."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return float("nan")
    # cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is inside
    # user.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK


@dataclass(frozen=True)
class WindowReading:
    """One window's clocks: wall and process CPU seconds, and the CPU-seconds
    the machine spent on other work (NaN without ``/proc/stat``)."""

    wall_s: float
    cpu_s: float
    others_cpu_s: float

    def cpu_share(self, threads: int) -> float:
        """CPU time / (wall time x threads): near 1 for a CPU-bound process that got its CPUs."""
        return self.cpu_s / max(self.wall_s * threads, 1e-12)


class Clock:
    """Brackets a window: ``start()``, then ``stop() -> WindowReading``."""

    def start(self) -> None:
        self._t, self._c, self._m = time.perf_counter(), time.process_time(), machine_busy_s()

    def stop(self) -> WindowReading:
        wall = time.perf_counter() - self._t
        cpu = time.process_time() - self._c
        machine = machine_busy_s() - self._m
        return WindowReading(wall, cpu, machine - cpu)


def percentiles(values, qs=(10, 50, 90)) -> list[float]:
    """Percentiles of ``values`` (linear interpolation), NaN for none."""
    import numpy as np

    if len(values) == 0:
        return [float("nan")] * len(qs)
    return [float(v) for v in np.percentile(np.asarray(values, float), qs)]
