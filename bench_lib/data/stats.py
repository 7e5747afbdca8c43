"""Size and sparsity statistics of a dataset (the table of ``python -m bench_lib.data stats``)."""

from __future__ import annotations

import numpy as np

__all__ = ["size_stats", "format_stats"]


def size_stats(n_node: np.ndarray, n_edge: np.ndarray) -> dict:
    """Graph count, node/edge mean, p50, p99, max, mean degree, density, max/mean,
    and the node efficiency of padding every graph to the largest."""
    n, e = np.asarray(n_node, float), np.asarray(n_edge, float)
    pairs = np.maximum(n * (n - 1), 1)
    return {
        "graphs": int(len(n)),
        "nodes_mean": float(n.mean()), "nodes_p50": float(np.percentile(n, 50)),
        "nodes_p99": float(np.percentile(n, 99)), "nodes_max": int(n.max()),
        "edges_mean": float(e.mean()), "edges_p50": float(np.percentile(e, 50)),
        "edges_p99": float(np.percentile(e, 99)), "edges_max": int(e.max()),
        "mean_degree": float(e.sum() / max(n.sum(), 1)), "density": float(np.mean(e / pairs)),
        "max_over_mean_nodes": float(n.max() / n.mean()),
        "pad_node_efficiency": float(n.mean() / n.max()),
    }


def format_stats(rows: dict[str, dict]) -> str:
    """A Markdown table, one row per dataset."""
    header = ["dataset", "graphs", "nodes mean / p50 / p99 / max", "edges mean / p50 / p99 / max",
              "mean degree", "density", "max/mean nodes", "pad node eff"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for name, s in rows.items():
        lines.append(f"| {name} | {s['graphs']:,} | {s['nodes_mean']:.1f} / {s['nodes_p50']:.0f} / "
                     f"{s['nodes_p99']:.0f} / {s['nodes_max']} | {s['edges_mean']:.1f} / "
                     f"{s['edges_p50']:.0f} / {s['edges_p99']:.0f} / {s['edges_max']} | "
                     f"{s['mean_degree']:.2f} | {s['density']:.3f} | "
                     f"{s['max_over_mean_nodes']:.2f} | {s['pad_node_efficiency']:.3f} |")
    return "\n".join(lines)
