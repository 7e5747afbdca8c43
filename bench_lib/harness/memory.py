"""A cell's memory: peaks read and reset around its phases, and each phase's rise above the
baseline.

The resident high-water mark is the process's (:mod:`bench_lib.harness.measure`);
on CUDA the allocator's peak is read and reset beside it.
"""

from __future__ import annotations

import torch

from bench_lib.harness.measure import peak_rss_mib, reset_peak_rss

__all__ = ["MEMORY_PHASES", "peaks", "reset_peaks", "rss_rise", "phase_rises"]

MEMORY_PHASES = ("throughput", "train", "validation")  # phases whose resident peak a cell records


def peaks(device: torch.device) -> tuple[float, float]:
    """(resident peak MiB, CUDA allocated peak MiB or NaN) since the last reset."""
    cuda = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
            else float("nan"))
    return peak_rss_mib(), cuda


def reset_peaks(device: torch.device) -> bool:
    """Reset the resident high-water mark (and CUDA's peak on a GPU); False when the resident one
    cannot be."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return reset_peak_rss()


def rss_rise(peak: float, base: float) -> float:
    """A phase's resident peak above the baseline, never below 0; NaN (unknown) when either is
    unknown (off Linux the baseline cannot be read: a rise of 0 would be a claim)."""
    if peak != peak or base != base:
        return float("nan")
    return max(0.0, peak - base)


def phase_rises(metrics: dict) -> dict:
    """``<phase>_rss_mib`` of every phase whose ``<phase>_peak_rss_mib`` is in ``metrics``: its rise
    above ``baseline_rss_mib``."""
    base = metrics["baseline_rss_mib"]
    return {f"{phase}_rss_mib": rss_rise(metrics[f"{phase}_peak_rss_mib"], base)
            for phase in MEMORY_PHASES if metrics.get(f"{phase}_peak_rss_mib") is not None}
