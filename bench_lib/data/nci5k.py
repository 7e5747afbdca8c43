"""``nci5k``: the first 5,000 NCI molecules that ship with RDKit, TPSA target.

Inputs are RDKit's own ``Data/NCI/first_5K.smi`` (SMILES and NCI id) and
``first_5k.tpsa.csv`` (SMILES and TPSA), found through
``rdkit.RDConfig.RDDataDir``, so the dataset works offline. Graphs are heavy
atom bond graphs with OGB-style features. Sizes are very skewed (mean 16
heavy atoms, max 122): the worst case for naive padding. 8 SMILES do not
sanitise in RDKit; they are skipped and named in ``meta.skipped``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from bench_lib.data.molecules import ATOM_FEATURES, BOND_FEATURES, feature_dims, smiles_to_graphs
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["nci5k_files", "build_nci5k"]


def nci5k_files() -> tuple[Path, Path]:
    from rdkit import RDConfig

    base = Path(RDConfig.RDDataDir) / "NCI"
    smi, tpsa = base / "first_5K.smi", base / "first_5k.tpsa.csv"
    for p in (smi, tpsa):
        if not p.exists():
            raise FileNotFoundError(f"nci5k needs RDKit's {p.name}; looked in {base}")
    return smi, tpsa


def read_nci5k(smi_path: Path, tpsa_path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """SMILES, NCI ids and TPSA, checked to be the same molecules in the same order."""
    smiles, ids = [], []
    for lineno, line in enumerate(Path(smi_path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        smiles.append(parts[0])
        ids.append(parts[1] if len(parts) > 1 else str(lineno))
    tpsa_smiles, tpsa = [], []
    with open(tpsa_path, newline="") as f:
        for row in csv.reader(f):
            if not row or row[0].startswith("#"):
                continue
            tpsa_smiles.append(row[0])
            tpsa.append(float(row[1]))
    if tpsa_smiles != smiles:
        first = next((i for i, (a, b) in enumerate(zip(smiles, tpsa_smiles)) if a != b),
                     min(len(smiles), len(tpsa_smiles)))
        raise ValueError(f"{smi_path.name} and {tpsa_path.name} disagree at molecule {first} "
                         f"({len(smiles)} vs {len(tpsa_smiles)} rows)")
    return smiles, ids, np.asarray(tpsa, dtype=np.float32)


def build_nci5k(smi_path: Path | None = None, tpsa_path: Path | None = None) -> GraphStore:
    if smi_path is None or tpsa_path is None:
        smi_path, tpsa_path = nci5k_files()
    smiles, ids, tpsa = read_nci5k(Path(smi_path), Path(tpsa_path))
    graphs, skipped = smiles_to_graphs(smiles, tpsa[:, None], ids)
    atom_dims, bond_dims = feature_dims()
    meta = StoreMeta(
        name="nci5k", source=str(smi_path), node_feature_names=ATOM_FEATURES,
        edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims, edge_feature_dims=bond_dims,
        target_names=("tpsa_A2",), params={}, n_input=len(smiles), skipped=tuple(skipped))
    return GraphStore.from_graphs(graphs, meta)
