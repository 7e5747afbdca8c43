"""OGB graph property sets, read from OGB's own on-disk layout.

``ogbg-molhiv`` (41k graphs) and ``ogbg-molpcba`` (438k) come as
``<root>/ogbg_mol{hiv,pcba}/raw/*.csv.gz`` plus ``split/scaffold/*.csv.gz``;
``pcqm4mv2`` (3.7M) as ``<root>/pcqm4m-v2/raw/data.csv.gz`` (SMILES and the
HOMO-LUMO gap) plus ``split_dict.pt``; it is read in chunks whose SMILES are
parsed by several processes and streamed into a store on disk, which then
opens memory-mapped. The root is ``data_dir``, else
``$BENCH_LIB_DATA``, else ``~/.cache/bench_lib/data``. The files are read
directly with pandas (vectorised, no per-graph Python), so an existing OGB
root works offline as it is; ``download=True`` asks the ``ogb`` package to
fetch a missing set first (it needs the internet).

A set missing offline raises ``FileNotFoundError`` saying where it looked,
the URL it would download from and the directory to put the files in. A
truncated or corrupt file is an error naming the file.
"""

from __future__ import annotations

import collections
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from bench_lib.data.molecules import ATOM_FEATURES, BOND_FEATURES, feature_dims, smiles_to_graphs
from bench_lib.data.parallel import ordered_map
from bench_lib.data.store import GraphStore, StoreMeta
from bench_lib.deps import quiet_jit_deprecation

__all__ = ["OGB_SETS", "data_root", "build_ogb", "stream_pcqm"]

_OGB_MOL = "http://snap.stanford.edu/ogb/data/graphproppred/csv_mol_download"

OGB_SETS = {
    "ogbg-molhiv": {"dir": "ogbg_molhiv", "url": f"{_OGB_MOL}/hiv.zip",
                    "split": "scaffold", "targets": ("hiv_active",)},
    "ogbg-molpcba": {"dir": "ogbg_molpcba", "url": f"{_OGB_MOL}/pcba.zip",
                     "split": "scaffold", "targets": tuple(f"pcba_task_{k}" for k in range(128))},
    "pcqm4mv2": {"dir": "pcqm4m-v2", "url": "http://ogb.stanford.edu/data/lsc/pcqm4m-v2.zip",
                 "split": None, "targets": ("homolumogap_ev",)},
}
_RAW = ("num-node-list.csv.gz", "num-edge-list.csv.gz", "edge.csv.gz", "node-feat.csv.gz",
        "edge-feat.csv.gz",
        "graph-label.csv.gz")


def data_root(data_dir: Path | str | None = None) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("BENCH_LIB_DATA")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/bench_lib/data").expanduser()


def _missing(name: str, root: Path, wanted: list[Path]) -> FileNotFoundError:
    info = OGB_SETS[name]
    return FileNotFoundError(
        f"{name} not found offline: looked for "
        f"{', '.join(str(p) for p in wanted[:3])}{' ...' if len(wanted) > 3 else ''}. It downloads "
        f"from {info['url']}; unzip it so that {root / info['dir']} holds its raw/ (and split/) "
        f"folders, point --data-dir or BENCH_LIB_DATA at another OGB root, or pass download=true "
        f"with internet access.")


def _csv(path: Path, dtype=None):
    import pandas as pd

    try:
        return pd.read_csv(path, header=None, dtype=dtype).to_numpy()
    except pd.errors.EmptyDataError:  # e.g. an empty split
        return np.zeros((0, 1), dtype=dtype or np.float64)
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile, ValueError) as err:
        raise ValueError(f"{path}: unreadable ({type(err).__name__}: {err}); a truncated download? "
                         "Delete it and fetch it again.") from None


def _download(name: str, root: Path) -> None:
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    with quiet_jit_deprecation():  # ogb imports PyG where it is installed
        from ogb.graphproppred import GraphPropPredDataset
        from ogb.lsc import PCQM4Mv2Dataset
    if name == "pcqm4mv2":
        PCQM4Mv2Dataset(root=str(root), only_smiles=True)
    else:
        GraphPropPredDataset(name=name, root=str(root))


def build_ogb(name: str, data_dir: Path | str | None = None, download: bool = False) -> GraphStore:
    """Build ``name``'s store from its OGB directory under the data root."""
    if name not in OGB_SETS:
        raise ValueError(f"unknown OGB set {name!r}; known: {', '.join(OGB_SETS)}")
    info, root = OGB_SETS[name], data_root(data_dir)
    base = root / info["dir"]
    if name == "pcqm4mv2":
        return _build_pcqm(root, base, download)
    wanted = [base / "raw" / f for f in _RAW] + [base / "split" / info["split"] / f"{s}.csv.gz"
                                                 for s in ("train", "valid", "test")]
    if not all(p.exists() for p in wanted):
        if not download:
            raise _missing(name, root, [p for p in wanted if not p.exists()])
        _download(name, root)
    raw = base / "raw"
    n_node = _csv(raw / "num-node-list.csv.gz", np.int64)[:, 0]
    n_edge = _csv(raw / "num-edge-list.csv.gz", np.int64)[:, 0]
    edges = _csv(raw / "edge.csv.gz", np.int64)
    node_feat = _csv(raw / "node-feat.csv.gz", np.int64)
    edge_feat = _csv(raw / "edge-feat.csv.gz", np.int64)
    labels = _csv(raw / "graph-label.csv.gz").astype(np.float32)
    for what, got, want in (("edge.csv.gz", len(edges), n_edge.sum()),
                            ("node-feat.csv.gz", len(node_feat), n_node.sum()),
                            ("graph-label.csv.gz", len(labels), len(n_node))):
        if got != want:
            raise ValueError(f"{raw / what}: {got} rows, but the count lists say {want}: a "
                             f"truncated download?")
    split = np.full(len(n_node), -1, dtype=np.int8)
    for k, s in enumerate(("train", "valid", "test")):
        split[_csv(base / "split" / info["split"] / f"{s}.csv.gz", np.int64)[:, 0]] = k
    # A graph with no label at all is skipped and counted; partial NaN labels (molpcba) stay NaN.
    keep = ~np.all(np.isnan(labels), axis=1)
    skipped = tuple({"input": int(i), "reason": "missing target"} for i in np.flatnonzero(~keep))
    atom_dims, bond_dims = feature_dims()
    params = {"split": info["split"]}
    # a layout written by bench_lib.data.ogb_layout that is not OGB's data
    standin = base / "STANDIN.txt"
    if standin.exists():
        params["note"] = standin.read_text().strip()
    meta = StoreMeta(name=name, source=str(base), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES,
                     node_feature_dims=atom_dims, edge_feature_dims=bond_dims,
                     target_names=info["targets"],
                     params=params, n_input=len(n_node), skipped=skipped)
    store = GraphStore(n_node=n_node, n_edge=n_edge, senders=edges[:, 0].astype(np.int32),
                       receivers=edges[:, 1].astype(np.int32), node_features=node_feat,
                       targets=labels, meta=meta,
                       edge_features=edge_feat, split=split)
    return store if keep.all() else store.subset(np.flatnonzero(keep))


#: SMILES parsed per chunk when PCQM4Mv2 is streamed into a store (each chunk one worker's job).
PCQM_CHUNK = 50_000


def _pcqm_files(root: Path, base: Path, download: bool) -> tuple[Path, Path]:
    data, split_file = base / "raw" / "data.csv.gz", base / "split_dict.pt"
    wanted = [data, split_file]
    if not all(p.exists() for p in wanted):
        if not download:
            raise _missing("pcqm4mv2", root, [p for p in wanted if not p.exists()])
        _download("pcqm4mv2", root)
    return data, split_file


def _pcqm_parse(smiles: list[str], targets: np.ndarray, ids: list[str], offset: int):
    """One chunk of PCQM4Mv2 rows -> (store columns or None, skipped records with global input
    numbers)."""
    graphs, skipped = smiles_to_graphs(smiles, targets[:, None], ids)
    for s in skipped:
        s["input"] += offset
    if not graphs:
        return None, skipped
    columns = GraphStore.from_graphs(graphs, StoreMeta(name="pcqm4mv2", source="")).arrays()
    return columns, skipped


def _pcqm_frames(data: Path):
    """``data.csv.gz`` in :data:`PCQM_CHUNK`-row pieces, as jobs for :func:`_pcqm_parse`; a file
    that cannot be read is an error naming it."""
    import pandas as pd

    try:
        for df in pd.read_csv(data, chunksize=PCQM_CHUNK):
            if len(df):
                yield (list(df["smiles"].astype(str)), df["homolumogap"].to_numpy(np.float32),
                       list(df["idx"].astype(str)), int(df.index[0]))
    except (EOFError, OSError, zlib.error, ValueError, KeyError) as err:
        raise ValueError(
            f"{data}: unreadable ({type(err).__name__}: {err}); a truncated download?") from None


def _pcqm_chunks(data: Path, split_file: Path, workers: int | None = None):
    """``(columns, skipped, split, rows read)`` per :data:`PCQM_CHUNK` rows of ``data.csv.gz``, in
    order; the SMILES of several chunks are parsed side by side in worker processes (RDKit is the
    slow part)."""
    import torch

    split_dict = torch.load(split_file, weights_only=True)
    parts = {k: np.asarray(split_dict[name], dtype=np.int64)
             for k, name in enumerate(("train", "valid", "test-dev"))}
    size = 1 + max((int(v.max()) for v in parts.values() if len(v)), default=-1)
    split_all = np.full(size, -1, dtype=np.int8)
    for k, rows in parts.items():
        split_all[rows] = k
    jobs = _pcqm_frames(data)
    sizes = collections.deque()  # (offset, rows) of the jobs handed out, oldest first

    def recorded():
        for job in jobs:
            sizes.append((job[3], len(job[0])))
            yield job

    for columns, skipped in ordered_map(_pcqm_parse, recorded(), workers=workers):
        offset, n = sizes.popleft()
        split = np.full(n, -1, dtype=np.int8)
        known = split_all[offset:offset + n]
        split[:len(known)] = known
        keep = np.ones(n, dtype=bool)
        keep[[s["input"] - offset for s in skipped]] = False
        yield columns, skipped, split[keep], n


def _pcqm_meta(base: Path, n_input: int, skipped: list[dict]) -> StoreMeta:
    # test-dev and test-challenge have no public labels (NaN): they stay in the store, unsplit or as
    # "test".
    atom_dims, bond_dims = feature_dims()
    return StoreMeta(name="pcqm4mv2", source=str(base), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims,
                     edge_feature_dims=bond_dims,
                     target_names=("homolumogap_ev",), params={}, n_input=n_input,
                     skipped=tuple(skipped))


def stream_pcqm(writer, data_dir: Path | str | None = None, download: bool = False) -> StoreMeta:
    """Write PCQM4Mv2 from its OGB layout into a :class:`~bench_lib.data.cache.StoreWriter`, chunk
    by chunk (bounded memory: the 3.7M molecules never sit in memory at once); the store then opens
    memory-mapped."""
    root = data_root(data_dir)
    base = root / OGB_SETS["pcqm4mv2"]["dir"]
    skipped, n_input = [], 0
    written = 0
    for columns, chunk_skipped, split, n in _pcqm_chunks(*_pcqm_files(root, base, download)):
        if columns is not None:
            writer.append(**columns, split=split)
            written += len(split)
        skipped += chunk_skipped
        n_input += n
    if not written:
        raise ValueError(f"pcqm4mv2: no molecule in {base} could be parsed ({n_input} rows read)")
    return _pcqm_meta(base, n_input, skipped)


def _build_pcqm(root: Path, base: Path, download: bool) -> GraphStore:
    chunks = list(_pcqm_chunks(*_pcqm_files(root, base, download), workers=1))
    kept = [c for c in chunks if c[0] is not None]
    if not kept:
        raise ValueError(f"pcqm4mv2: no molecule in {base} could be parsed")
    columns = {k: np.concatenate([c[0][k] for c in kept]) for k in kept[0][0]}
    meta = _pcqm_meta(base, sum(c[3] for c in chunks), [s for c in chunks for s in c[1]])
    return GraphStore(**columns, meta=meta, split=np.concatenate([c[2] for c in kept]))
