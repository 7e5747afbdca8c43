"""What a long command says while it works: the heartbeat of its phases and the time left of a
suite."""

from __future__ import annotations

import io
import time

from bench_lib.harness import progress as progress_module
from bench_lib.schema import CellSpec
from bench_lib.harness.progress import Heartbeat, Progress, kinds_first, phase


def _group(dataset: str, model: str, seed: int, n: int, repeats: int = 1) -> list[CellSpec]:
    return [CellSpec(dataset=dataset, strategy=s, model=model, seed=seed, repeats=repeats)
            for s in ("pad", "dynamic", "pack-lpfhp")[:n]]


def test_the_first_group_of_each_kind_runs_first():
    groups = ([_group("nci5k", "gin", s, 3) for s in (0, 1)]
              + [_group("qm9", "schnet", s, 2) for s in (0, 1)]
              + [_group("nci5k", "gin", 2, 3, repeats=0)])
    order = [(g[0].dataset, g[0].seed, g[0].repeats) for g in kinds_first(groups)]
    assert order == [("nci5k", 0, 1), ("qm9", 0, 1), ("nci5k", 2, 0), ("nci5k", 1, 1),
                     ("qm9", 1, 1)]


def test_the_time_left_prices_each_group_by_its_kind(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: now[0])
    groups = [_group("nci5k", "gin", 0, 3), _group("qm9", "schnet", 0, 2),
              _group("nci5k", "gin", 1, 3),
              _group("qm9", "schnet", 1, 2)]
    p = Progress(10, stream=io.StringIO(), groups=groups)
    p.begin_group(1, 4, groups[0])
    assert "~? left" in p._times()  # nothing priced before the first group ends
    now[0] = 30.0  # gin: 10 s per cell
    p.begin_group(2, 4, groups[1])
    assert p._left() == 2 * 10 + 3 * 10 + 2 * 10  # schnet not timed yet: priced at the mean so far
    now[0] = 30.0 + 80.0  # schnet: 40 s per cell
    p.begin_group(3, 4, groups[2])
    assert p._left() == 3 * 10 + 2 * 40
    now[0] += 12.0  # 12 s into the gin group
    assert p._left() == (30 - 12) + 80


def test_a_phase_is_said_once_it_lasts_and_again_while_it_lasts_and_a_quick_one_not_at_all():
    out = io.StringIO()
    with Heartbeat(stream=out, quiet_s=0.2, every_s=0.4):
        phase("quick")
        time.sleep(0.05)
        phase("loading qm9")
        time.sleep(1.0)
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("[") and "] loading qm9" in line for line in lines), lines
    assert len(lines) >= 2 and "(still, " in lines[1]
    phase("no heartbeat: nothing said")  # outside a heartbeat, a no-op
