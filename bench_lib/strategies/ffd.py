"""``pack-ffd``: first-fit decreasing on nodes and edges.

Graphs are taken one by one, largest node count first (then largest edge
count), and each goes into the first pack, in opening order, that still has
room for its nodes, its edges and one more graph. A max-tree over the packs'
remaining room finds that pack in about log(packs) steps, so the packer is
O(G log G), but it works graph by graph in Python: fine for 10^5 graphs,
slow for millions (use ``pack-lpfhp`` or ``pack-cutstock`` there).

Wastes: about what LPFHP wastes; it differs in which pack a graph joins
(first fit, not best fit). Static shapes: yes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench_lib.data.store import exclusive_cumsum
from bench_lib.strategies.base import GraphTooLargeError
from bench_lib.strategies.packing import Packs, PackStrategy
from bench_lib.strategies.registry import STRATEGIES

__all__ = ["FirstFitDecreasing", "first_fit"]


def first_fit(n_node: np.ndarray, n_edge: np.ndarray, order: np.ndarray, max_nodes: int,
              max_edges: int | None, max_graphs: int) -> tuple[np.ndarray, int]:
    """First fit over ``order``; returns ``(pack of each graph, number of packs)``.

    Raises:
      GraphTooLargeError: a graph does not fit even an empty pack (names it).
    """
    n_items = len(order)
    size = 1
    while size < max(n_items, 1):
        size *= 2
    cap_e = max_edges if max_edges is not None else 1 << 62
    # Leaves are packs in opening order; a pack not yet opened has full room,
    # so "first pack that fits" opens a new one when no open pack fits.
    room_n, room_e, room_g = ([max_nodes] * (2 * size), [cap_e] * (2 * size),
                              [max_graphs] * (2 * size))
    pack_of = np.empty(len(n_node), dtype=np.int64)
    used = 0
    nodes, edges = n_node.tolist(), n_edge.tolist()
    for i in order.tolist():
        n, e = nodes[i], edges[i]
        stack, leaf = [1], -1
        while stack:
            v = stack.pop()
            if room_n[v] < n or room_e[v] < e or room_g[v] < 1:
                continue
            if v >= size:
                leaf = v
                break
            stack.append(2 * v + 1)
            stack.append(2 * v)
        if leaf < 0:  # not even an empty pack has room for it
            raise GraphTooLargeError(
                f"graph {i} ({n} nodes, {e} edges) does not fit an empty pack of {max_nodes} "
                f"nodes, {'unlimited' if max_edges is None else max_edges} edges and {max_graphs} "
                f"graphs")
        room_n[leaf] -= n
        room_e[leaf] -= e
        room_g[leaf] -= 1
        v = leaf >> 1
        while v:
            a, b = 2 * v, 2 * v + 1
            room_n[v] = room_n[a] if room_n[a] > room_n[b] else room_n[b]
            room_e[v] = room_e[a] if room_e[a] > room_e[b] else room_e[b]
            room_g[v] = room_g[a] if room_g[a] > room_g[b] else room_g[b]
            v >>= 1
        p = leaf - size
        pack_of[i] = p
        used = p + 1 if p >= used else used
    return pack_of, used


@STRATEGIES.register
@dataclass(frozen=True)
class FirstFitDecreasing(PackStrategy):
    """First-fit decreasing on (nodes, edges) with a graph-count limit.

    Example: ``STRATEGIES.create("pack-ffd", max_nodes=36, max_edges=600)``.
    """

    name = "pack-ffd"
    wastes = "the node/edge slots first-fit-decreasing leaves (a few %)"

    def build_packs(self, n_node, n_edge, rng) -> Packs:
        # Decreasing nodes, then edges; equal sizes in a seeded random order.
        tie = rng.permutation(len(n_node))
        order = tie[np.lexsort((-n_edge[tie], -n_node[tie]))]
        pack_of, n_pack = first_fit(n_node, n_edge, order, self.max_nodes, self.max_edges,
                                    self.graphs_cap())
        graph_index = np.argsort(pack_of, kind="stable")
        return Packs(graph_index, exclusive_cumsum(np.bincount(pack_of, minlength=n_pack)),
                     self.max_nodes, self.max_edges, self.max_graphs)
