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

from bench_lib.strategies.packing import PackGroups, Packs, PackStrategy, assign_graphs, size_histogram
from bench_lib.strategies.registry import STRATEGIES

__all__ = ["LPFHP", "lpfhp_groups"]


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
    open_by_room: dict[int, list[list]] = {}  # node room -> [[count, keys, edge room, graph room]]
    closed: PackGroups = []

    def add(count: int, keys: tuple, room_n: int, room_e: int, room_g: int) -> None:
        if count <= 0:
            return
        if room_g <= 0 or room_n <= 0:
            closed.append((count, keys))
        else:
            open_by_room.setdefault(room_n, []).append([count, keys, room_e, room_g])

    for k in np.lexsort((-key_e, -key_n)).tolist():
        n, e, c = int(key_n[k]), int(key_e[k]), int(key_count[k])
        while c > 0:
            hit = None
            for room in range(n, max_nodes + 1):
                groups = open_by_room.get(room)
                if not groups:
                    continue
                best = -1
                for gi, g in enumerate(groups):
                    if g[3] >= 1 and (not use_e or g[2] >= e) and (best < 0 or g[2] < groups[best][2]):
                        best = gi
                        if not use_e:
                            break
                if best >= 0:
                    hit = (room, groups, best)
                    break
            if hit is None:
                rep = min(c, max_graphs, max_nodes // n if n else c, cap_e // e if use_e and e else c)
                n_new = c // rep
                add(n_new, (k,) * rep, max_nodes - rep * n, cap_e - rep * e, max_graphs - rep)
                c -= n_new * rep
                continue
            room, groups, gi = hit
            count, keys, room_e, room_g = groups[gi]
            rep = min(c, room_g, room // n if n else c, room_e // e if use_e and e else c)
            use = min(count, c // rep)
            if use == count:
                groups.pop(gi)
                if not groups:
                    del open_by_room[room]
            else:
                groups[gi][0] = count - use
            add(use, keys + (k,) * rep, room - rep * n, room_e - rep * e, room_g - rep)
            c -= use * rep
    for groups in open_by_room.values():
        closed.extend((g[0], g[1]) for g in groups)
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
        groups = lpfhp_groups(hist.n, hist.e, hist.count, self.max_nodes, self.max_edges, self.graphs_cap())
        return assign_graphs(groups, hist, rng, self.max_nodes, self.max_edges, self.max_graphs)
