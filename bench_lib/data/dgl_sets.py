"""ZINC (12k) and LRGB Peptides-func, the large-and-sparse case.

``zinc``: DGL's ``ZINCDataset`` (the 12k subset with its train/valid/test
modes) under ``<data root>/zinc``; it downloads on first use when
``download=True`` (needs the internet).

``peptides-func``: about 15.5k peptides (mean ~151 atoms, up to 444). Read
from LRGB's SMILES file ``peptide_multi_class_dataset.csv.gz`` and its
official split ``splits_random_stratified_peptide.pickle``, found under
``<data root>/peptides-functional/`` or DGL's
``<data root>/Peptides-func_1ca91230/``; ``download=True`` lets DGL's
``PeptidesFunctionalDataset`` fetch them. Graphs get the same OGB-style
featurisation as every other SMILES source. The split pickle is read with an
unpickler that accepts numpy arrays, lists and dicts only.
"""

from __future__ import annotations

import ast
import io
import pickle
from pathlib import Path

import numpy as np

from bench_lib.data.molecules import ATOM_FEATURES, BOND_FEATURES, feature_dims, smiles_to_graphs
from bench_lib.data.ogb_sets import data_root
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["build_zinc", "build_peptides", "safe_load_pickle"]

ZINC_URL = "https://data.dgl.ai/dataset/ZINC12k.zip"
PEPTIDES_URL = "https://www.dropbox.com/s/ol2v01usvaxbsr8/peptide_multi_class_dataset.csv.gz"
PEPTIDES_FILES = ("peptide_multi_class_dataset.csv.gz", "splits_random_stratified_peptide.pickle")
PEPTIDES_TASKS = ("antifungal", "cell_cell_communication", "anticancer", "drug_delivery_vehicle",
                  "antimicrobial",
                  "antiviral", "antihypertensive", "antibacterial", "antiparasitic", "toxic")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "scalar"), ("builtins", "list"), ("builtins", "dict")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a split file")
        return super().find_class(module, name)


def safe_load_pickle(path: Path):
    """Unpickle numpy arrays, lists and dicts; anything else is refused."""
    return _NumpyOnlyUnpickler(io.BytesIO(Path(path).read_bytes())).load()


def build_peptides(data_dir: Path | str | None = None, download: bool = False) -> GraphStore:
    import pandas as pd

    root = data_root(data_dir)
    candidates = [root / "peptides-functional", root / "Peptides-func_1ca91230", root]
    base = next((c for c in candidates if all((c / f).exists() for f in PEPTIDES_FILES)), None)
    if base is None and download:
        from bench_lib.deps import import_dgl

        import_dgl().data.PeptidesFunctionalDataset(raw_dir=str(root))
        base = next((c for c in candidates if all((c / f).exists() for f in PEPTIDES_FILES)), None)
    if base is None:
        raise FileNotFoundError(
            f"peptides-func not found offline: looked for {PEPTIDES_FILES[0]} and "
            f"{PEPTIDES_FILES[1]} in {', '.join(map(str, candidates))}. They download from "
            f"{PEPTIDES_URL} (and LRGB's split file); put both in {candidates[0]} or pass "
            f"download=true with internet access.")
    try:
        df = pd.read_csv(base / PEPTIDES_FILES[0])
    except (EOFError, OSError, ValueError) as err:
        raise ValueError(
            f"{base / PEPTIDES_FILES[0]}: unreadable ({err}); a truncated download?") from None
    labels = np.array([ast.literal_eval(s) for s in df["labels"]], dtype=np.float32)
    graphs, skipped = smiles_to_graphs(df["smiles"], labels, df.index.astype(str))
    split_of_input = np.full(len(df), -1, dtype=np.int8)
    splits = safe_load_pickle(base / PEPTIDES_FILES[1])
    for k, name in enumerate(("train", "val", "test")):
        split_of_input[np.asarray(splits[name], dtype=np.int64)] = k
    kept = np.setdiff1d(np.arange(len(df)), [s["input"] for s in skipped])
    atom_dims, bond_dims = feature_dims()
    meta = StoreMeta(name="peptides-func", source=str(base), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims,
                     edge_feature_dims=bond_dims,
                     target_names=PEPTIDES_TASKS, n_input=len(df), skipped=tuple(skipped))
    store = GraphStore.from_graphs(graphs, meta)
    return GraphStore(**{**store.arrays(), "meta": meta, "split": split_of_input[kept]})


def build_zinc(data_dir: Path | str | None = None, download: bool = False) -> GraphStore:
    import torch

    root = data_root(data_dir) / "zinc"
    if not (root / "ZINC12k").exists() and not download:
        raise FileNotFoundError(f"zinc not found offline: looked in {root / 'ZINC12k'}. DGL "
                                f"downloads it from {ZINC_URL}; unzip it there or pass "
                                f"download=true with internet access.")
    from bench_lib.deps import import_dgl

    dgl = import_dgl()
    graphs, split = [], []
    for k, mode in enumerate(("train", "valid", "test")):
        ds = dgl.data.ZINCDataset(mode=mode, raw_dir=str(root))
        for g, y in ds:
            s, r = g.edges()
            graphs.append({"n_node": g.num_nodes(), "senders": s.numpy(), "receivers": r.numpy(),
                           "node_features": g.ndata["feat"].numpy().reshape(-1, 1),
                           "edge_features": g.edata["feat"].numpy().reshape(-1, 1),
                           "targets": torch.as_tensor(y).numpy().reshape(1)})
            split.append(k)
    meta = StoreMeta(name="zinc", source=str(root), node_feature_names=("atom_type",),
                     edge_feature_names=("bond_type",), node_feature_dims=(28,),
                     edge_feature_dims=(4,),
                     target_names=("penalized_logp",), n_input=len(graphs))
    store = GraphStore.from_graphs(graphs, meta)
    return GraphStore(**{**store.arrays(), "meta": meta, "split": np.array(split, dtype=np.int8)})
