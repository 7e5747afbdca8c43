"""``qm9``: 130,831 small organic molecules with DFT geometries (``qm9pack``).

All atoms including hydrogens (at most 29), 3D positions in Angstrom, and a
radius graph built per molecule when the store is built (default: the seed
paper's 6.0 A cutoff and 28 nearest neighbours). Narrow sizes but dense
edges: the opposite case to ``nci5k``.

Targets are in eV: ``u0_atomization_ev`` is the internal energy at 0 K minus
the usual per-atom reference energies (QM9's atomref table), then HOMO, LUMO
and gap. The CSVs are read directly: importing ``qm9pack`` pulls in
``pkg_resources``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from bench_lib.data.neighbours import edge_columns
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["qm9_dir", "build_qm9", "HARTREE_EV", "ATOMREF_U0_HA"]

HARTREE_EV = 27.211386246
#: U0 of the isolated atoms (Hartree), B3LYP/6-31G(2df,p), QM9's atomref table.
ATOMREF_U0_HA = {1: -0.500273, 6: -37.846772, 7: -54.583861, 8: -75.064579, 9: -99.718730}
_Z = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
_COLUMNS = ["Index", "N_atoms", "Elements", "XYZ_Ang", "InternalEnergy_0K_au",
            "HOMO_au", "LUMO_au", "HOMO_LUMO_gap_au"]
TARGETS = ("u0_atomization_ev", "homo_ev", "lumo_ev", "gap_ev")


def qm9_dir() -> Path:
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("qm9 needs the `qm9pack` package (pip install qm9pack)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not (path / "qm9_part1.csv").exists():
        raise FileNotFoundError(f"qm9pack's data files are missing: looked for qm9_part1..3.csv in "
                                f"{path}")
    return path


def _floats(strings, expected: int, what: str) -> np.ndarray:
    flat = ",".join(strings).replace("[", "").replace("]", "")
    values = np.array(flat.split(","), dtype=np.float64)
    if len(values) != expected:
        raise ValueError(f"qm9: parsed {len(values)} {what} values, expected {expected}")
    return values


def read_qm9(data_dir: Path, n_graphs: int | None, seed: int):
    import pandas as pd

    files = sorted(Path(data_dir).glob("qm9_part*.csv"))
    if not files:
        raise FileNotFoundError(f"no qm9_part*.csv in {data_dir}")
    df = pd.concat([pd.read_csv(f, usecols=_COLUMNS) for f in files], ignore_index=True)
    n_input = len(df)
    if n_graphs is not None and n_graphs < n_input:
        rows = np.sort(np.random.default_rng(seed).choice(n_input, size=n_graphs, replace=False))
        df = df.iloc[rows].reset_index(drop=True)
    return df, n_input, [str(f) for f in files]


def build_qm9(n_graphs: int | None = None, seed: int = 0, cutoff: float = 6.0,
              max_neighbors: int | None = 28, data_dir: Path | None = None,
              edges: str = "stored") -> GraphStore:
    """Build the QM9 store (optionally a seeded subset of ``n_graphs``); ``edges`` as in
    :func:`bench_lib.data.neighbours.edge_columns`."""
    df, n_input, files = read_qm9(Path(data_dir) if data_dir else qm9_dir(), n_graphs, seed)
    n_node = df["N_atoms"].to_numpy(np.int64)
    n_total = int(n_node.sum())
    symbols = ",".join(df["Elements"]).replace("[", "").replace("]", "").replace("'", "").split(",")
    if len(symbols) != n_total:
        raise ValueError(f"qm9: {len(symbols)} element symbols for {n_total} atoms")
    try:
        z = np.array([_Z[s.strip()] for s in symbols], dtype=np.int64)
    except KeyError as err:
        raise ValueError(f"qm9: unknown element {err}") from None
    positions = _floats(df["XYZ_Ang"], 3 * n_total, "coordinate").reshape(-1, 3).astype(np.float32)
    ref = np.zeros(10)
    for k, v in ATOMREF_U0_HA.items():
        ref[k] = v
    graph_of_atom = np.repeat(np.arange(len(n_node)), n_node)
    atom_ref = np.bincount(graph_of_atom, weights=ref[z], minlength=len(n_node))
    targets = np.stack([
        (df["InternalEnergy_0K_au"].to_numpy() - atom_ref) * HARTREE_EV,
        df["HOMO_au"].to_numpy() * HARTREE_EV,
        df["LUMO_au"].to_numpy() * HARTREE_EV,
        df["HOMO_LUMO_gap_au"].to_numpy() * HARTREE_EV,
    ], axis=1).astype(np.float32)
    columns, neighbours = edge_columns(n_node, positions, edges, cutoff, max_neighbors)
    params = {"n_graphs": n_graphs, "seed": seed, "cutoff": cutoff, "max_neighbors": max_neighbors}
    meta = StoreMeta(
        name="qm9", source=";".join(files), node_feature_names=("atomic_number",),
        node_feature_dims=(10,), target_names=TARGETS,
        params=params if edges == "stored" else {**params, "edges": edges}, n_input=n_input,
                     neighbours=neighbours)
    return GraphStore(n_node=n_node, **columns, node_features=z[:, None], targets=targets,
                      meta=meta,
                      positions=positions)
