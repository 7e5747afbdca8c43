"""Generic local files: ``csv:PATH``, ``sdf:PATH`` and ``xyz:PATH``.

- ``csv``: a table with a SMILES column and numeric target columns -> 2D
  bond graphs with OGB-style features. The SMILES column is guessed from the
  usual headers when not given; targets default to every numeric column.
- ``sdf``: molecules with 3D conformers -> atoms, positions and a radius
  graph; targets from numeric SD properties.
- ``xyz``: a multi-frame XYZ file, a directory or a glob of them -> atoms,
  positions and a radius graph; the energy is read from the comment line
  when it holds a number (the last one, e.g. ``Ord_Energy -15.94``).

Bad records (a SMILES that does not parse, a frame whose atom count is
wrong, a missing target) are skipped and named with their reason in
``meta.skipped``; a file that is unusable as a whole (empty, no SMILES
column) is a ``ValueError`` naming the file and line.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from bench_lib.data.molecules import ATOM_FEATURES, BOND_FEATURES, feature_dims, smiles_to_graphs
from bench_lib.data.radius import radius_graph
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["build_csv", "build_sdf", "build_xyz", "SMILES_HEADERS", "parse_xyz"]

SMILES_HEADERS = ("smiles", "SMILES", "Smiles", "smi", "SMI", "canonical_smiles", "CanonicalSMILES", "mol")


def _existing(path: Path | str) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    return path


def build_csv(path: Path | str, smiles_column: str | None = None,
              target_columns: list[str] | None = None) -> GraphStore:
    import pandas as pd

    path = _existing(path)
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: no rows") from None
    except pd.errors.ParserError as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from None
    if smiles_column is None:
        smiles_column = next((c for c in SMILES_HEADERS if c in df.columns), None)
        if smiles_column is None:
            raise ValueError(f"{path}: no SMILES column among {list(df.columns)}; name it with smiles_column=")
    elif smiles_column not in df.columns:
        raise ValueError(f"{path}: no column {smiles_column!r}; columns are {list(df.columns)}")
    if target_columns is None:
        target_columns = [c for c in df.columns if c != smiles_column and pd.api.types.is_numeric_dtype(df[c])]
        if not target_columns:
            raise ValueError(f"{path}: no numeric target column; name them with target_columns=")
    missing = [c for c in target_columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: no target column(s) {missing}; columns are {list(df.columns)}")
    targets = df[target_columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
    no_target = np.isnan(targets).any(axis=1)
    smiles = df[smiles_column].astype(str).tolist()
    rows = np.flatnonzero(~no_target)
    graphs, bad = smiles_to_graphs([smiles[i] for i in rows], targets[rows], [str(i) for i in rows])
    skipped = [{"input": int(i), "id": str(i), "reason": "missing target"} for i in np.flatnonzero(no_target)]
    skipped += [{**s, "input": int(rows[s["input"]])} for s in bad]
    if not graphs:
        raise ValueError(f"{path}: no usable row ({len(skipped)} skipped; first: {skipped[:1]})")
    atom_dims, bond_dims = feature_dims()
    meta = StoreMeta(name=f"csv:{path}", source=str(path), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims, edge_feature_dims=bond_dims,
                     target_names=tuple(target_columns), params={"smiles_column": smiles_column}, n_input=len(df),
                     skipped=tuple(sorted(skipped, key=lambda s: s["input"])))
    return GraphStore.from_graphs(graphs, meta)


def _atomic_numbers(symbols: list[str]) -> np.ndarray:
    from rdkit import Chem

    table = Chem.GetPeriodicTable()
    return np.array([table.GetAtomicNumber(s.strip().capitalize()) for s in symbols], dtype=np.int64)


def _store_3d(name: str, source: str, n_node, z, pos, targets, target_names, n_input, skipped, cutoff,
              max_neighbors) -> GraphStore:
    n_node = np.asarray(n_node, dtype=np.int64)
    n_edge, senders, receivers = radius_graph(n_node, pos, cutoff, max_neighbors)
    meta = StoreMeta(name=name, source=source, node_feature_names=("atomic_number",),
                     node_feature_dims=(int(z.max(initial=1)) + 1,), target_names=tuple(target_names),
                     params={"cutoff": cutoff, "max_neighbors": max_neighbors}, n_input=n_input,
                     skipped=tuple(skipped))
    return GraphStore(n_node=n_node, n_edge=n_edge, senders=senders, receivers=receivers, node_features=z[:, None],
                      targets=np.asarray(targets, np.float32).reshape(len(n_node), -1), meta=meta,
                      positions=np.asarray(pos, np.float32))


def parse_xyz(path: Path) -> tuple[list[tuple[list[str], np.ndarray, float]], list[dict], int]:
    """Frames ``(symbols, positions [n, 3], energy or nan)``, skipped frames, frames seen."""
    lines = path.read_text().splitlines()
    frames, skipped, seen, i = [], [], 0, 0
    while i < len(lines):
        head = lines[i].strip()
        if not head:
            i += 1
            continue
        if not head.isdigit():
            raise ValueError(f"{path}:{i + 1}: expected an atom count, found {head[:40]!r}")
        n, seen, start = int(head), seen + 1, i
        comment = lines[i + 1] if i + 1 < len(lines) else ""
        body = lines[i + 2:i + 2 + n]
        atoms = [b.split() for b in body]
        ok = len(atoms) == n and all(len(a) >= 4 and not a[0].lstrip("-").isdigit() for a in atoms)
        if not ok:
            # Skip to the next line that is a lone integer (the next frame's count).
            j = i + 2
            while j < len(lines) and not lines[j].strip().isdigit():
                j += 1
            skipped.append({"input": seen - 1, "id": f"{path.name}:{start + 1}",
                            "reason": f"frame says {n} atoms but has {j - i - 2} atom lines"})
            i = j
            continue
        try:
            pos = np.array([[float(x) for x in a[1:4]] for a in atoms], dtype=np.float32)
        except ValueError:
            skipped.append({"input": seen - 1, "id": f"{path.name}:{start + 1}", "reason": "non-numeric coordinate"})
            i += 2 + n
            continue
        numbers = []
        for tok in comment.split():
            try:
                numbers.append(float(tok))
            except ValueError:
                pass
        frames.append(([a[0] for a in atoms], pos, numbers[-1] if numbers else float("nan")))
        i += 2 + n
    return frames, skipped, seen


def build_xyz(path: Path | str, cutoff: float = 6.0, max_neighbors: int | None = 28) -> GraphStore:
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text))
    else:
        p = _existing(text)
        files = sorted(p.glob("*.xyz")) if p.is_dir() else [p]
    if not files:
        raise FileNotFoundError(f"no .xyz file matches {text}")
    frames, skipped, seen = [], [], 0
    for f in files:
        fr, sk, n = parse_xyz(_existing(f))
        skipped += [{**s, "input": s["input"] + seen} for s in sk]
        frames += fr
        seen += n
    if not frames:
        raise ValueError(f"{text}: no usable frame ({len(skipped)} skipped)")
    energies = np.array([e for _, _, e in frames], dtype=np.float32)
    has_energy = ~np.isnan(energies)
    if has_energy.any() and not has_energy.all():
        for k in np.flatnonzero(~has_energy):
            skipped.append({"input": int(k), "id": str(k), "reason": "missing target (no energy on the comment line)"})
        frames = [f for f, ok in zip(frames, has_energy) if ok]
        energies = energies[has_energy]
    target_names = ("energy",) if has_energy.any() else ("none",)
    if not has_energy.any():
        energies = np.zeros(len(frames), np.float32)
    z = _atomic_numbers([s for syms, _, _ in frames for s in syms])
    pos = np.concatenate([p for _, p, _ in frames])
    return _store_3d(f"xyz:{text}", ";".join(map(str, files)), [len(s) for s, _, _ in frames], z, pos, energies,
                     target_names, seen, skipped, cutoff, max_neighbors)


def build_sdf(path: Path | str, target_columns: list[str] | None = None, cutoff: float = 6.0,
              max_neighbors: int | None = 28) -> GraphStore:
    from rdkit import Chem, rdBase

    path = _existing(path)
    mols, skipped = [], []
    with rdBase.BlockLogs():
        for k, mol in enumerate(Chem.SDMolSupplier(str(path), removeHs=False)):
            if mol is None:
                skipped.append({"input": k, "id": str(k), "reason": "RDKit could not read the record"})
            elif mol.GetNumConformers() == 0:
                skipped.append({"input": k, "id": str(k), "reason": "no 3D coordinates"})
            else:
                mols.append((k, mol))
    if not mols:
        raise ValueError(f"{path}: no usable molecule ({len(skipped)} skipped)")
    props = [m.GetPropsAsDict() for _, m in mols]
    if target_columns is None:
        target_columns = sorted(k for k in props[0] if all(isinstance(p.get(k), (int, float)) for p in props))
    keep, targets = [], []
    for (k, mol), p in zip(mols, props):
        vals = [p.get(c) for c in target_columns]
        if any(not isinstance(v, (int, float)) for v in vals):
            skipped.append({"input": k, "id": str(k), "reason": "missing target"})
            continue
        keep.append(mol)
        targets.append(vals or [0.0])
    z = np.concatenate([[a.GetAtomicNum() for a in m.GetAtoms()] for m in keep]).astype(np.int64)
    pos = np.concatenate([m.GetConformer().GetPositions() for m in keep])
    return _store_3d(f"sdf:{path}", str(path), [m.GetNumAtoms() for m in keep], z, pos, targets,
                     target_columns or ["none"], len(mols) + len([s for s in skipped if "read" in s["reason"]]),
                     sorted(skipped, key=lambda s: s["input"]), cutoff, max_neighbors)
