"""Write molecules in OGB's on-disk layout, and the stand-in molpcba a machine without OGB's data
can run.

:func:`write_ogb_layout` writes ``<root>/<dir>/raw/*.csv.gz`` and
``split/scaffold/*.csv.gz`` as OGB ships them (graphs featurised as
:mod:`bench_lib.data.molecules` does, labels with ``nan`` where missing),
so that :func:`bench_lib.data.ogb_sets.build_ogb` reads it like the real
set. A layout that is not OGB's data says so in ``STANDIN.txt``; the store
built from it carries that text as its note, so that no run mistakes it for
OGB's.

:func:`standin_molpcba` is such a stand-in for ``ogbg-molpcba``: the 5,000
NCI molecules that ship with RDKit (a different chemistry from PubChem's
BioAssays), 128 binary labels computed by RDKit (presence of each of its
functional-group counters ``fr_*``, then descriptors above their median),
most labels missing at random as in PCBA, and a seeded random split (not
OGB's scaffold split). Its average precisions measure a model learning
RDKit's substructure flags, nothing about bioactivity: it exists so that the
reduced AlgoPerf suite (``benchmarks/algoperf-ogbg-reduced.toml``) runs and
is tested offline. Example::

    python -m bench_lib.data standin-molpcba /tmp/ogb   # then --data-dir /tmp/ogb
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from bench_lib.data.molecules import smiles_to_graphs
from bench_lib.data.ogb_sets import OGB_SETS

__all__ = ["write_ogb_layout", "standin_molpcba", "STANDIN_FILE", "MOLPCBA_LABELLED"]

#: The file that marks a layout as a stand-in (its text says what it is).
STANDIN_FILE = "STANDIN.txt"
#: Share of the stand-in's labels that are known (PCBA's labels are mostly missing).
MOLPCBA_LABELLED = 0.4


def _put(path: Path, rows) -> None:
    text = "\n".join(",".join(str(v) for v in r) for r in rows)
    path.write_bytes(gzip.compress((text + "\n").encode() if text else b""))


def write_ogb_layout(root: Path | str, name: str, smiles: list[str], labels: np.ndarray,
                     split: np.ndarray, note: str | None = None) -> Path:
    """Write ``smiles`` (labels ``[n, tasks]``, NaN where missing; ``split`` 0/1/2 per molecule for
    train/valid/test) as OGB set ``name`` under ``root``; molecules RDKit cannot parse are left out.
    ``note``: the text of ``STANDIN.txt`` (what this data is, when it is not OGB's). Returns the
    set's folder."""
    info = OGB_SETS[name]
    labels = np.asarray(labels, dtype=np.float64).reshape(len(smiles), -1)
    if labels.shape[1] != len(info["targets"]):
        raise ValueError(f"{name} has {len(info['targets'])} task(s); got labels for "
                         f"{labels.shape[1]}")
    graphs, skipped = smiles_to_graphs(smiles, labels.astype(np.float32),
                                       [str(k) for k in range(len(smiles))])
    kept = np.setdiff1d(np.arange(len(smiles)), [s["input"] for s in skipped])
    base = Path(root) / info["dir"]
    raw, folds = base / "raw", base / "split" / info["split"]
    raw.mkdir(parents=True, exist_ok=True)
    folds.mkdir(parents=True, exist_ok=True)
    _put(raw / "num-node-list.csv.gz", [[g["n_node"]] for g in graphs])
    _put(raw / "num-edge-list.csv.gz", [[len(g["senders"])] for g in graphs])
    _put(raw / "edge.csv.gz", [(int(s), int(r)) for g in graphs
                               for s, r in zip(g["senders"], g["receivers"])])
    _put(raw / "node-feat.csv.gz",
         [list(map(int, row)) for g in graphs for row in g["node_features"]])
    _put(raw / "edge-feat.csv.gz",
         [list(map(int, row)) for g in graphs for row in g["edge_features"]])
    _put(raw / "graph-label.csv.gz", [["nan" if v != v else int(v) if float(v).is_integer() else v
                                       for v in row]
                                      for row in labels[kept]])
    where = np.asarray(split)[kept]
    for k, fold in enumerate(("train", "valid", "test")):
        _put(folds / f"{fold}.csv.gz", [[i] for i in np.flatnonzero(where == k)])
    marker = base / STANDIN_FILE
    if note:
        marker.write_text(note.strip() + "\n")
    elif marker.exists():
        marker.unlink()
    return base


def _rdkit_labels(smiles: list[str]) -> np.ndarray:
    """128 binary labels per molecule from RDKit: each ``fr_*`` counter > 0, then descriptors above
    their median (NaN where RDKit cannot parse the SMILES)."""
    from rdkit import Chem, rdBase
    from rdkit.Chem import Descriptors

    fragments = sorted(n for n, _ in Descriptors.descList if n.startswith("fr_"))
    others = [n for n, _ in Descriptors.descList if not n.startswith("fr_")]
    funcs = dict(Descriptors.descList)
    names = fragments + others[: 128 - len(fragments)]
    out = np.full((len(smiles), len(names)), np.nan)
    with rdBase.BlockLogs():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                continue
            for j, n in enumerate(names):
                try:
                    out[i, j] = float(funcs[n](mol))
                except (ValueError, ZeroDivisionError, RuntimeError):
                    pass
    values = out.copy()
    cut = len(fragments)
    out[:, :cut] = np.where(np.isnan(values[:, :cut]), np.nan, values[:, :cut] > 0)
    median = np.nanmedian(values[:, cut:], axis=0)
    out[:, cut:] = np.where(np.isnan(values[:, cut:]), np.nan, values[:, cut:] > median)
    return out


def standin_molpcba(root: Path | str, n_molecules: int = 5000, seed: int = 0) -> Path:
    """Write the stand-in ``ogbg-molpcba`` (see the module docstring) under ``root``; returns its
    folder."""
    from bench_lib.data.nci5k import nci5k_files, read_nci5k

    smi, tpsa = nci5k_files()
    smiles, _, _ = read_nci5k(Path(smi), Path(tpsa))
    smiles = smiles[:n_molecules]
    rng = np.random.default_rng(seed)
    labels = _rdkit_labels(smiles)
    labels[rng.random(labels.shape) > MOLPCBA_LABELLED] = np.nan
    split = rng.choice(3, size=len(smiles), p=(0.8, 0.1, 0.1))
    note = ((f"a STAND-IN for ogbg-molpcba, not OGB's data: {len(smiles):,} NCI molecules from "
             f"RDKit, 128 binary labels computed by RDKit (functional-group counters > 0, "
             f"descriptors above their median), {MOLPCBA_LABELLED:.0%} of labels known, random "
             f"split (seed {seed}); made by `python -m bench_lib.data standin-molpcba`"))
    return write_ogb_layout(root, "ogbg-molpcba", smiles, labels, split, note)
