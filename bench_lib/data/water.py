"""``hydronet-like``: water clusters with HydroNet's size distribution.

Cluster sizes are drawn from the HydroNet histograms (counts below,
transcribed from the seed paper's packing code; sizes in atoms, 3 per
water). Each cluster's oxygens sit on the sites of a cubic lattice at liquid
water's density (0.0334 molecules per cubic Angstrom, spacing 3.10 A)
nearest a random centre, jittered by up to 0.25 A and rotated at random;
each oxygen gets two hydrogens at 0.9572 A and 104.52 degrees in a random
orientation. Radius graphs over these positions are then about as dense as
real clusters'. Scales from thousands to millions of clusters with a seed.

The target, ``oo_lj_ev``, is the Lennard-Jones part of TIP3P's
oxygen-oxygen interaction summed over the cluster (eV): a smooth function of
the geometry for time-to-accuracy runs, not a quantum-chemical energy.
"""

from __future__ import annotations

import numpy as np

from bench_lib.data.radius import local_index_dtype, radius_graph
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["HYDRONET_COUNTS", "hydronet_sizes", "build_hydronet_like", "stream_hydronet_like", "hydronet_chunks"]

_FULL = {9: 2, 12: 10, 15: 19, 18: 106, 21: 470, 24: 577, 27: 4126, 30: 11448, 33: 26824, 36: 42641, 39: 58452,
         42: 80533, 45: 95820, 48: 96859, 51: 106987, 54: 112679, 57: 106808, 60: 121376, 63: 314062,
         66: 394711, 69: 353964, 72: 315329, 75: 482907, 78: 530503, 81: 392145, 84: 276037, 87: 295831,
         90: 243514}
#: Clusters per size (atoms) in the HydroNet sets used by the seed paper.
HYDRONET_COUNTS = {
    "full_4.5M": _FULL,
    "medium_2.7M": {k: v for k, v in _FULL.items() if k <= 75},
    "minvar_500k": {12: 1, 15: 5, 18: 23, 21: 87, 24: 97, 27: 763, 30: 2106, 33: 4917, 36: 7967, 39: 10704,
                    42: 14935, 45: 17822, 48: 17662, 51: 19534, 54: 20736, 57: 19489, 60: 22139, 63: 57318,
                    66: 72693, 69: 64525, 72: 57671, 75: 88806},
}
WATER_DENSITY = 0.0334  # molecules per cubic Angstrom
OH_BOND, HOH_ANGLE = 0.9572, np.deg2rad(104.52)
LJ_SIGMA, LJ_EPSILON_EV = 3.15061, 0.1521 * 0.0433641  # TIP3P O-O, kcal/mol -> eV


def hydronet_sizes(n_graphs: int, subset: str = "full_4.5M", seed: int = 0) -> np.ndarray:
    """Atoms per cluster, drawn from the histogram of ``subset``."""
    if subset not in HYDRONET_COUNTS:
        raise ValueError(f"unknown HydroNet subset {subset!r}; known: {', '.join(HYDRONET_COUNTS)}")
    hist = HYDRONET_COUNTS[subset]
    sizes = np.array(list(hist), dtype=np.int64)
    p = np.array(list(hist.values()), dtype=float)
    return np.random.default_rng(seed).choice(sizes, size=n_graphs, p=p / p.sum())


def _random_rotations(rng, m: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(m, 3, 3)))
    return q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]


def _oxygens(rng, n_waters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Oxygen positions ``[sum(n_waters), 3]`` in cluster order, and each
    cluster's O-O Lennard-Jones energy; vectorised over clusters of one size."""
    spacing = WATER_DENSITY ** (-1 / 3)
    g = np.arange(-4, 5)
    lattice = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) * spacing
    first = np.concatenate([[0], np.cumsum(n_waters)[:-1]])
    out = np.empty((int(n_waters.sum()), 3))
    energy = np.zeros(len(n_waters))
    for w in np.unique(n_waters):
        for lo in range(0, int(np.sum(n_waters == w)), 20_000):  # bounded memory per chunk
            idx = np.flatnonzero(n_waters == w)[lo:lo + 20_000]
            centre = rng.uniform(0, spacing, size=(len(idx), 1, 3))
            d = np.linalg.norm(lattice[None] - centre, axis=-1)
            nearest = np.argpartition(d, w - 1, axis=1)[:, :w]
            pos = lattice[nearest] - centre + rng.uniform(-0.25, 0.25, size=(len(idx), w, 3))
            pos = np.einsum("mij,mwj->mwi", _random_rotations(rng, len(idx)), pos)
            out[(first[idx][:, None] + np.arange(w)).ravel()] = pos.reshape(-1, 3)
            iu = np.triu_indices(w, 1)
            r = np.linalg.norm(pos[:, :, None] - pos[:, None, :], axis=-1)[:, iu[0], iu[1]]
            s6 = (LJ_SIGMA / r) ** 6
            energy[idx] = np.sum(4 * LJ_EPSILON_EV * (s6 * s6 - s6), axis=1)
    return out, energy


#: Clusters generated at a time (each chunk from its own seeded generator, so the data do not depend on
#: how they are written): bounds a build's memory whatever ``n_graphs`` is.
CHUNK_GRAPHS = 50_000


def _meta(n_graphs: int, seed: int, subset: str, cutoff: float, max_neighbors: int | None) -> StoreMeta:
    return StoreMeta(name="hydronet-like", source=f"generated: HydroNet {subset} sizes, seed {seed}",
                     node_feature_names=("atomic_number",), node_feature_dims=(10,), target_names=("oo_lj_ev",),
                     params={"n_graphs": n_graphs, "seed": seed, "subset": subset, "cutoff": cutoff,
                             "max_neighbors": max_neighbors}, n_input=n_graphs)


def hydronet_chunks(n_graphs: int = 10_000, seed: int = 0, subset: str = "full_4.5M", cutoff: float = 6.0,
                    max_neighbors: int | None = 28):
    """The store's columns, :data:`CHUNK_GRAPHS` clusters at a time (dicts of arrays, clusters in order)."""
    sizes = hydronet_sizes(n_graphs, subset, seed)
    # One local-index dtype for every chunk: the largest cluster's (90 atoms: uint8).
    local = local_index_dtype(int(max(HYDRONET_COUNTS[subset])))
    for k, lo in enumerate(range(0, n_graphs, CHUNK_GRAPHS)):
        rng = np.random.default_rng([seed, 1, k])
        n_node = sizes[lo:lo + CHUNK_GRAPHS]
        o, energy = _oxygens(rng, n_node // 3)
        u1 = rng.normal(size=o.shape)
        u1 /= np.linalg.norm(u1, axis=1, keepdims=True)
        v = rng.normal(size=o.shape)
        u2 = v - np.sum(v * u1, axis=1, keepdims=True) * u1
        u2 /= np.linalg.norm(u2, axis=1, keepdims=True)
        h1 = o + OH_BOND * u1
        h2 = o + OH_BOND * (np.cos(HOH_ANGLE) * u1 + np.sin(HOH_ANGLE) * u2)
        positions = np.stack([o, h1, h2], axis=1).reshape(-1, 3).astype(np.float32)  # O, H, H per water
        z = np.tile(np.array([8, 1, 1], dtype=np.int64), len(o))
        n_edge, senders, receivers = radius_graph(n_node, positions, cutoff, max_neighbors)
        yield {"n_node": n_node, "n_edge": n_edge, "senders": senders.astype(local),
               "receivers": receivers.astype(local), "node_features": z[:, None],
               "targets": energy[:, None].astype(np.float32), "positions": positions}


def stream_hydronet_like(writer, **params) -> StoreMeta:
    """Write ``hydronet-like`` chunk by chunk into a :class:`~bench_lib.data.cache.StoreWriter`."""
    for chunk in hydronet_chunks(**params):
        writer.append(**chunk)
    return _meta(**{**_DEFAULTS, **params})


_DEFAULTS = {"n_graphs": 10_000, "seed": 0, "subset": "full_4.5M", "cutoff": 6.0, "max_neighbors": 28}


def build_hydronet_like(**params) -> GraphStore:
    """The whole store in memory (see :func:`stream_hydronet_like` for a store on disk)."""
    chunks = list(hydronet_chunks(**params))
    columns = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    return GraphStore(meta=_meta(**{**_DEFAULTS, **params}), **columns)
