"""A third-party strategy arrives through the entry-point group and passes
the same conformance suite as the built-ins."""

from __future__ import annotations

import textwrap

import pytest

from bench_lib.strategies import ENTRY_POINT_GROUP, STRATEGIES, StrategyRegistry
from tests.conftest import make_random_store
from tests.strategies.conformance import check_conformance

PLUGIN = '''
from dataclasses import dataclass

import numpy as np

from bench_lib.strategies import Plan, Strategy


@dataclass(frozen=True)
class SortedChunks:
    n_graph: int
    order: np.ndarray
    batch_graphs: int
    shape = None

    def plan_epoch(self, rng):
        starts = np.arange(0, self.n_graph, self.batch_graphs)
        sizes = np.diff(np.append(starts, self.n_graph))
        # shuffle whole batches, keep similar sizes together
        perm = rng.permutation(len(sizes))
        ptr = np.append(0, np.cumsum(sizes))
        index = np.concatenate([self.order[ptr[b]:ptr[b + 1]] for b in perm])
        return Plan.from_batch_sizes(index, sizes[perm], None)


@dataclass(frozen=True)
class SizeSorted(Strategy):
    """Toy plugin: graphs sorted by size, cut into runs of batch_graphs."""

    name = "toy-size-sorted"
    static_shape = False
    wastes = "nothing"
    batch_graphs: int = 6

    def prepare(self, n_node, n_edge, rng):
        return SortedChunks(len(n_node), np.argsort(n_node, kind="stable"), self.batch_graphs)
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """Lay the plugin out as pip would: a module plus a dist-info with its entry point."""
    (tmp_path / "toy_bench_plugin.py").write_text(PLUGIN)
    dist = tmp_path / "toy_bench_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-bench-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""
        [{ENTRY_POINT_GROUP}]
        toy-size-sorted = toy_bench_plugin:SizeSorted
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    STRATEGIES.unregister("toy-size-sorted")


def test_plugin_is_discovered_and_conforms(installed_plugin):
    STRATEGIES.load_plugins(reload=True)
    assert "toy-size-sorted" in STRATEGIES.names()
    strategy = STRATEGIES.create("toy-size-sorted", batch_graphs=4)
    check_conformance(strategy, make_random_store(n_graphs=30, seed=5))


def test_plugin_with_mismatched_name_is_refused(tmp_path, monkeypatch):
    (tmp_path / "bad_plugin.py").write_text(PLUGIN)
    dist = tmp_path / "bad_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nother-name = "
                                           f"bad_plugin:SizeSorted\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ValueError, match="entry point 'other-name'.*whose name is 'toy-size-sorted'"):
        StrategyRegistry().load_plugins()


def test_registry_errors_name_the_choices():
    with pytest.raises(ValueError, match="unknown strategy 'nope'; known: .*pack-lpfhp"):
        STRATEGIES.get("nope")
    with pytest.raises(ValueError, match=r"strategy 'pad' has no parameter\(s\) \['max_nodes'\]; "
                                         r"valid: \['batch_graphs', "):
        STRATEGIES.create("pad", max_nodes=3)
    with pytest.raises(ValueError, match=r"`max_nodes` must be an integer >= 1 \(got -3\)"):
        STRATEGIES.create("pack-lpfhp", max_nodes=-3)
    with pytest.raises(TypeError, match="not a Strategy subclass"):
        StrategyRegistry().register(int)
