"""SD and XYZ files, molecules with coordinates -> graph stores (the rules
are in :mod:`bench_lib.data.local_files`' docstring).

- ``sdf``: atoms, positions and a radius graph, targets from numeric SD
  properties; a file whose molecules are all flat becomes 2D bond graphs.
- ``xyz``: a multi-frame XYZ file, a directory or a glob of them -> atoms,
  positions and a radius graph, the energy from each comment line.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from bench_lib.data.molecules import ATOM_FEATURES, BOND_FEATURES, feature_dims, mol_to_graph
from bench_lib.data.neighbours import edge_columns
from bench_lib.data.store import GraphStore, StoreMeta
from bench_lib.data.table_columns import _as_list
from bench_lib.data.table_file import _existing

__all__ = ["build_sdf", "build_xyz", "parse_xyz"]


def _atomic_numbers(symbols: list[str], where: str) -> np.ndarray:
    from rdkit import Chem, rdBase

    table, out = Chem.GetPeriodicTable(), []
    with rdBase.BlockLogs():
        for s in symbols:
            try:
                out.append(table.GetAtomicNumber(s.strip().capitalize()))
            except RuntimeError:
                raise ValueError(f"{where}: unknown element symbol {s!r}") from None
    return np.array(out, dtype=np.int64)


def _store_3d(name: str, source: str, n_node, z, pos, targets, target_names, n_input, skipped,
              cutoff,
              max_neighbors, note: str = "", edges: str = "stored") -> GraphStore:
    n_node = np.asarray(n_node, dtype=np.int64)
    columns, neighbours = edge_columns(n_node, np.asarray(pos, np.float32), edges, cutoff,
                                       max_neighbors)
    params = {"cutoff": cutoff, "max_neighbors": max_neighbors, "note": note}
    meta = StoreMeta(name=name, source=source, node_feature_names=("atomic_number",),
                     node_feature_dims=(int(z.max(initial=1)) + 1,),
                     target_names=tuple(target_names),
                     params=params if edges == "stored" else {**params, "edges": edges},
                     n_input=n_input,
                     skipped=tuple(skipped), neighbours=neighbours)
    return GraphStore(n_node=n_node, **columns, node_features=z[:, None],
                      targets=np.asarray(targets,
                                         np.float32).reshape(len(n_node), len(target_names)),
                      meta=meta,
                      positions=np.asarray(pos, np.float32))


def parse_xyz(path: Path) -> tuple[list[tuple[list[str], np.ndarray, float, int]], list[dict], int]:
    """Frames ``(symbols, positions [n, 3], energy or nan, line of the count)``,
    skipped frames, frames seen. Lines are 1-based."""
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: a binary file, not an XYZ text file") from None
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
        good = [len(a) >= 4 and not a[0].lstrip("-").isdigit() for a in atoms]
        if n == 0 or len(atoms) < n or not all(good):
            # The frame ends at its first line that is not an atom line.
            n_atoms = good.index(False) if False in good else len(atoms)
            j = i + 2 + n_atoms
            skipped.append({"input": seen - 1, "line": start + 1, "id": f"{path.name}:{start + 1}",
                            "reason": f"frame says {n} atoms but has {n_atoms} atom lines"})
            i = j
            continue
        try:
            pos = np.array([[float(x) for x in a[1:4]] for a in atoms], dtype=np.float32)
        except ValueError:
            skipped.append({"input": seen - 1, "line": start + 1, "id": f"{path.name}:{start + 1}",
                            "reason": "non-numeric coordinate"})
            i += 2 + n
            continue
        numbers = []
        for tok in comment.split():
            try:
                numbers.append(float(tok))
            except ValueError:
                pass
        energy = numbers[-1] if numbers else float("nan")
        if not np.isfinite(energy) and numbers:
            skipped.append({"input": seen - 1, "line": start + 2, "id": f"{path.name}:{start + 1}",
                            "reason": "non-finite energy on the comment line"})
        else:
            frames.append(([a[0] for a in atoms], pos, energy, start + 1))
        i += 2 + n
    return frames, skipped, seen


def build_xyz(path: Path | str, cutoff: float = 6.0, max_neighbors: int | None = 28,
              edges: str = "stored") -> GraphStore:
    """XYZ frames (a file, a folder of ``*.xyz`` files or a glob) -> atoms, positions and edges
    within ``cutoff`` (at most ``max_neighbors`` per atom; ``edges`` as
    :func:`bench_lib.data.neighbours.edge_columns` takes it); the energy is the target when the
    comment lines hold one."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text))
    else:
        p = Path(text).expanduser()
        files = sorted(p.glob("*.xyz")) if p.is_dir() else [_existing(p)]
    if not files:
        raise FileNotFoundError(f"no .xyz file matches {text}")
    frames, skipped, seen = [], [], 0
    for f in files:
        fr, sk, n = parse_xyz(_existing(f))
        skipped += [{**s, "input": s["input"] + seen, "file": f.name} for s in sk]
        frames += [(*x, f.name, seen + k) for k, x in enumerate(fr)]
        seen += n
    if not frames:
        raise ValueError(f"{text}: no usable frame ({len(skipped)} skipped"
                         + (f"; first: line {skipped[0]['line']}: {skipped[0]['reason']})"
                            if skipped else ")"))
    energies = np.array([fr[2] for fr in frames], dtype=np.float32)
    has_energy = ~np.isnan(energies)
    if has_energy.any() and not has_energy.all():
        for fr in (fr for fr, ok in zip(frames, has_energy) if not ok):
            skipped.append({"input": fr[5], "line": fr[3] + 1, "file": fr[4],
                            "id": f"{fr[4]}:{fr[3]}",
                            "reason": "missing target (no energy on the comment line)"})
        frames = [fr for fr, ok in zip(frames, has_energy) if ok]
        energies = energies[has_energy]
    target_names = ("energy",) if has_energy.any() else ()
    z = _atomic_numbers([s for fr in frames for s in fr[0]], text)
    pos = np.concatenate([fr[1] for fr in frames])
    targets = energies[:, None] if target_names else np.zeros((len(frames), 0), np.float32)
    note = "target: 'energy' (the comment line's last number)" if target_names else \
        "no energy on any comment line: no target (throughput and memory only)"
    return _store_3d(f"xyz:{text}", ";".join(map(str, files)), [len(fr[0]) for fr in frames], z,
                     pos, targets,
                     target_names, seen, sorted(skipped, key=lambda s: s["input"]), cutoff,
                     max_neighbors, note,
                     edges)


def _sdf_records(path: Path) -> list[tuple[int, str]]:
    """(1-based first line, title) of every record of an SD file."""
    out, start, title = [], 1, None
    with open(path, "rb") as f:
        for k, raw in enumerate(f, start=1):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if title is None:
                title = line.strip()
            if line.strip() == "$$$$":
                out.append((start, title))
                start, title = k + 1, None
    if title is not None and title != "":
        out.append((start, title))
    return out


def _first(skipped: list[dict]) -> str:
    if not skipped:
        return "0 skipped"
    first = min(skipped, key=lambda r: r["input"])
    return f"{len(skipped)} skipped; first: line {first.get('line')}: {first['reason']}"


def _flat(mol) -> bool:
    """2D coordinates: every z is 0 (whatever the file's 2D/3D flag says)."""
    return bool(np.allclose(mol.GetConformer().GetPositions()[:, 2], 0.0))


def build_sdf(path: Path | str, target_columns=None, cutoff: float = 6.0,
              max_neighbors: int | None = 28, edges: str = "stored") -> GraphStore:
    """An SD file -> atoms, positions and edges (``cutoff``, ``max_neighbors``, ``edges`` as for
    :func:`build_xyz`), or 2D bond graphs when every molecule is flat; targets from numeric SD
    properties."""
    from rdkit import Chem

    path = _existing(path)
    with open(path, "rb") as f:
        if b"\0" in f.read(1 << 16):
            raise ValueError(f"{path}: a binary file, not an SD file")
    records = _sdf_records(path)
    skipped: list[dict] = []
    mols = _sdf_molecules(path, records, skipped)
    n_input = max(len(records), len(mols) + len(skipped))
    if not mols:
        raise ValueError(f"{path}: no usable molecule ({_first(skipped)})")
    flat = [_flat(m) for _, m in mols]
    is_3d = not all(flat)
    if is_3d:
        for (k, _), f in zip(mols, flat):
            if f:
                _skip(skipped, records, k, "2D coordinates (all z = 0) in a file of 3D molecules")
        mols = [km for km, f in zip(mols, flat) if not f]
    props = [m.GetPropsAsDict() for _, m in mols]
    names = _sdf_target_names(path, props, target_columns)
    keep, targets = _sdf_targets(mols, props, names, records, skipped)
    if not keep:
        raise ValueError(f"{path}: no usable molecule ({_first(skipped)})")
    skipped.sort(key=lambda s: s["input"])
    note = (f"target: {', '.join(map(repr, names))}" if names
            else "no numeric SD property: no target (throughput and memory only)")
    y = np.asarray(targets, np.float32).reshape(len(keep), len(names))
    if not is_3d:
        return _store_2d_from_mols(path, [Chem.RemoveHs(m, sanitize=False) for m in keep], y, names,
                                   n_input,
                                   skipped, note + "; 2D coordinates (every z = 0): bond graphs, "
                                                   "no positions")
    z = np.concatenate([[a.GetAtomicNum() for a in m.GetAtoms()] for m in keep]).astype(np.int64)
    pos = np.concatenate([m.GetConformer().GetPositions() for m in keep])
    return _store_3d(f"sdf:{path}", str(path), [m.GetNumAtoms() for m in keep], z, pos, y,
                     names, n_input, skipped, cutoff, max_neighbors, note, edges)


def _skip(skipped: list[dict], records: list[tuple[int, str]], k: int, reason: str) -> None:
    """Adds SD record ``k`` (from 0) to ``skipped``, with its first line and its title as the ID."""
    line, title = records[k] if k < len(records) else (None, "")
    skipped.append({"input": k, "line": line, "id": title, "reason": reason})


def _sdf_molecules(path: Path, records: list[tuple[int, str]],
                   skipped: list[dict]) -> list[tuple[int, object]]:
    """``(record index, molecule)`` of every record RDKit reads with coordinates; the others go to
    ``skipped``."""
    from rdkit import Chem, rdBase

    mols = []
    with rdBase.BlockLogs():
        for k, mol in enumerate(Chem.SDMolSupplier(str(path), removeHs=False)):
            if mol is None:
                _skip(skipped, records, k, "RDKit could not read the record")
            elif mol.GetNumConformers() == 0:
                _skip(skipped, records, k, "no coordinates")
            else:
                mols.append((k, mol))
    return mols


def _sdf_target_names(path: Path, props: list[dict], target_columns) -> list[str]:
    """The target properties: those named (an error when no molecule has any), else the one property
    that is numeric in every molecule, or none (several is an error)."""
    names = _as_list(target_columns)
    if names is None:
        numeric = sorted(k for k in props[0]
                         if all(isinstance(p.get(k),
                                           (int,
                                            float)) and not isinstance(p.get(k), bool)
                                for p in props))
        if len(numeric) > 1:
            raise ValueError(
                f"{path}: several numeric SD properties ({', '.join(numeric)}); choose the target "
                f"with --target NAME (target_columns=)")
        return numeric
    if not any(c in p for p in props for c in names):
        raise ValueError(f"{path}: no SD property {names}; properties are {sorted(props[0])}")
    return names


def _sdf_targets(mols, props: list[dict], names: list[str], records: list[tuple[int, str]],
                 skipped: list[dict]) -> tuple[list, list[list[float]]]:
    """The molecules with a finite number in every target property, and those numbers; the others go
    to ``skipped`` with the first property that failed."""
    keep, targets = [], []
    for (k, mol), p in zip(mols, props):
        vals = [p.get(c) for c in names]
        bad = next((c for c, v in zip(names, vals) if not isinstance(v, (int, float))), None)
        if bad is not None:
            v = p.get(bad)
            missing = v is None or str(v).strip().lower() in ("", "nan", "na", "n/a")
            _skip(skipped, records, k, f"missing value in {bad!r}" if missing
                  else f"non-numeric value {str(v)[:40]!r} in {bad!r}")
        elif not np.all(np.isfinite(vals)):
            _skip(skipped, records, k, f"non-finite value in "
                                       f"{names[int(np.argmin(np.isfinite(vals)))]!r}")
        else:
            keep.append(mol)
            targets.append(vals)
    return keep, targets


def _store_2d_from_mols(path: Path, mols, y, names, n_input, skipped, note) -> GraphStore:
    graphs = []
    for mol, t in zip(mols, y):
        g = mol_to_graph(mol)
        g["targets"] = t
        graphs.append(g)
    atom_dims, bond_dims = feature_dims()
    meta = StoreMeta(name=f"sdf:{path}", source=str(path), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims,
                     edge_feature_dims=bond_dims,
                     target_names=tuple(names), n_input=n_input,
                     params={"coordinates": "2D", "note": note},
                     skipped=tuple(skipped))
    return GraphStore.from_graphs(graphs, meta)
