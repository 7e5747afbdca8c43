"""``pack-lpfhp``: longest-pack-first histogram packing.

The heuristic of Krell et al. (2021) used by the seed paper, here with node,
edge and graph-count capacities. Sizes are visited from the largest down,
working on the histogram (distinct sizes and their counts) rather than on
graphs: each size goes, as many copies at once as fit, into the open packs
with the least room that still takes it (best fit), or opens new packs.
Without an edge capacity the histogram is over node counts only; with one it
is over (node, edge) pairs, best fit first on nodes, then on edges.

Wastes: the few percent of node slots best-fit leaves (about 2% on HydroNet
sizes at 154 nodes). Static shapes: yes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench_lib.strategies.packing import (PackGroups, Packs, PackStrategy, assign_graphs,
                                          size_histogram)
from bench_lib.strategies.registry import STRATEGIES

__all__ = ["LPFHP", "lpfhp_groups", "OpenPacks"]


@dataclass
class OpenPacks:
    """Identical packs still open: how many, what they hold, the room left.

    Attributes:
      count: number of packs with exactly these contents.
      keys: key ids of the graphs in one such pack.
      room_edges: edge room left in each (0 when edges are unconstrained).
      room_graphs: graph slots left in each.
    """

    count: int
    keys: tuple[int, ...]
    room_edges: int
    room_graphs: int

    def takes(self, edges: int, use_edges: bool) -> bool:
        """Whether one more graph with ``edges`` edges fits (nodes are checked by the caller)."""
        return self.room_graphs >= 1 and (not use_edges or self.room_edges >= edges)


def _best_fit(open_by_room: dict[int, list[OpenPacks]], n: int, e: int, max_nodes: int,
              use_e: bool):
    """The open packs with the least node room that take a graph of (n, e),
    and among those the least edge room: ``(node room, its list, index)`` or None."""
    for room in range(n, max_nodes + 1):
        groups = open_by_room.get(room)
        if not groups:
            continue
        best = -1
        for gi, g in enumerate(groups):
            if g.takes(e, use_e) and (best < 0 or g.room_edges < groups[best].room_edges):
                best = gi
                if not use_e:
                    break
        if best >= 0:
            return room, groups, best
    return None


def lpfhp_groups(key_n: np.ndarray, key_e: np.ndarray, key_count: np.ndarray, max_nodes: int,
                 max_edges: int | None, max_graphs: int) -> PackGroups:
    """Pack a histogram; returns ``[(n_packs, key ids of one such pack), ...]``.

    Args:
      key_n, key_e, key_count: per distinct size, its nodes, edges and count.
      max_nodes, max_edges, max_graphs: pack capacity (``max_edges`` None:
        edges unconstrained).
    """
    use_e = max_edges is not None
    cap_e = max_edges if use_e else 0
    open_by_room: dict[int, list[OpenPacks]] = {}  # node room left -> open packs with that room
    closed: PackGroups = []

    def add(count: int, keys: tuple, room_n: int, room_e: int, room_g: int) -> None:
        if count <= 0:
            return
        if room_g <= 0 or room_n <= 0:
            closed.append((count, keys))
        else:
            open_by_room.setdefault(room_n, []).append(OpenPacks(count, keys, room_e, room_g))

    for k in np.lexsort((-key_e, -key_n)).tolist():
        n, e, c = int(key_n[k]), int(key_e[k]), int(key_count[k])
        while c > 0:
            hit = _best_fit(open_by_room, n, e, max_nodes, use_e)
            if hit is None:  # open new packs, as many copies of this size in each as fit
                rep = min(c, max_graphs, max_nodes // n if n else c,
                          cap_e // e if use_e and e else c)
                n_new = c // rep
                add(n_new, (k,) * rep, max_nodes - rep * n, cap_e - rep * e, max_graphs - rep)
                c -= n_new * rep
                continue
            room, groups, gi = hit
            g = groups[gi]
            rep = min(c, g.room_graphs, room // n if n else c,
                      g.room_edges // e if use_e and e else c)
            use = min(g.count, c // rep)
            if use == g.count:
                groups.pop(gi)
                if not groups:
                    del open_by_room[room]
            else:
                g.count -= use
            add(use, g.keys + (k,) * rep, room - rep * n, g.room_edges - rep * e,
                g.room_graphs - rep)
            c -= use * rep
    for groups in open_by_room.values():
        closed.extend((g.count, g.keys) for g in groups)
    return closed


@STRATEGIES.register
@dataclass(frozen=True)
class LPFHP(PackStrategy):
    """Longest-pack-first histogram packing (node, edge and graph capacities).

    Example: ``STRATEGIES.create("pack-lpfhp", max_nodes=154, max_graphs=5)``.
    """

    name = "pack-lpfhp"
    wastes = "the node/edge slots best-fit-decreasing on the size histogram leaves (a few %)"

    def build_packs(self, n_node, n_edge, rng) -> Packs:
        hist = size_histogram(n_node, n_edge if self.max_edges is not None else None)
        groups = lpfhp_groups(hist.n, hist.e, hist.count, self.max_nodes, self.max_edges,
                              self.graphs_cap())
        return assign_graphs(groups, hist, rng, self.max_nodes, self.max_edges, self.max_graphs)
