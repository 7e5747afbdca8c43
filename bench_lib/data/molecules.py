"""RDKit molecules to 2D bond graphs with OGB-style features.

RDKit writes every SMILES it cannot parse to stderr; here parsing runs with
RDKit's logs blocked, and each failure comes back as a reason string that the
source records in ``StoreMeta.skipped``.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Iterable

import numpy as np

__all__ = ["parse_smiles", "mol_to_graph", "smiles_to_graphs", "ATOM_FEATURES", "BOND_FEATURES"]

ATOM_FEATURES = ("atomic_num", "chirality", "degree", "formal_charge", "num_h",
                 "num_radical_e", "hybridization", "is_aromatic", "is_in_ring")
BOND_FEATURES = ("bond_type", "bond_stereo", "is_conjugated")


@functools.lru_cache(maxsize=1)
def _ogb_features():
    """OGB's atom/bond feature encoding (``ogb/utils/features.py``), loaded
    from its file: importing the ``ogb`` package starts a version check over
    the network (its ``outdated`` dependency ignores ``OUTDATED_IGNORE``)."""
    spec = importlib.util.find_spec("ogb")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the molecule featuriser needs the `ogb` package (pip install "
                                  "ogb)")
    path = Path(list(spec.submodule_search_locations)[0]) / "utils" / "features.py"
    module_spec = importlib.util.spec_from_file_location("_bench_lib_ogb_features", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def feature_dims() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Vocabulary sizes of the OGB atom and bond feature columns."""
    f = _ogb_features()
    return tuple(f.get_atom_feature_dims()), tuple(f.get_bond_feature_dims())


def parse_smiles(smiles: str):
    """``(mol, None)`` or ``(None, reason)``; never logs, never raises."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            return None, "SMILES syntax error"
        try:
            Chem.SanitizeMol(mol)
        except Exception as err:  # RDKit raises several exception types here
            return None, f"{type(err).__name__}: {err}"
    if mol.GetNumAtoms() == 0:
        return None, "molecule has no atoms"
    return mol, None


def mol_to_graph(mol) -> dict[str, np.ndarray]:
    """Heavy-atom bond graph: 9 atom and 3 bond feature columns (OGB's
    encoding), each bond as two directed edges."""
    f = _ogb_features()
    atoms = np.array([f.atom_to_feature_vector(a) for a in mol.GetAtoms()], dtype=np.int64)
    bonds = list(mol.GetBonds())
    senders = np.empty(2 * len(bonds), dtype=np.int32)
    receivers = np.empty(2 * len(bonds), dtype=np.int32)
    edge_feat = np.empty((2 * len(bonds), len(BOND_FEATURES)), dtype=np.int64)
    for k, b in enumerate(bonds):
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        senders[2 * k], receivers[2 * k] = i, j
        senders[2 * k + 1], receivers[2 * k + 1] = j, i
        edge_feat[2 * k] = edge_feat[2 * k + 1] = f.bond_to_feature_vector(b)
    return {"n_node": len(atoms), "node_features": atoms, "senders": senders,
            "receivers": receivers, "edge_features": edge_feat}


def smiles_to_graphs(smiles: Iterable[str], targets: np.ndarray, ids: Iterable[str]):
    """Parse each SMILES; returns ``(graphs, skipped)``.

    ``skipped`` has one ``{"input", "id", "smiles", "reason"}`` per failure.
    """
    graphs, skipped = [], []
    for k, (smi, tgt, ident) in enumerate(zip(smiles, targets, ids)):
        mol, reason = parse_smiles(smi)
        if mol is None:
            skipped.append({"input": k, "id": str(ident), "smiles": smi, "reason": reason})
            continue
        g = mol_to_graph(mol)
        g["targets"] = np.atleast_1d(np.asarray(tgt, dtype=np.float32))
        graphs.append(g)
    return graphs, skipped
