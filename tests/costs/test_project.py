"""Projections from counted costs (bench_lib.costs.project): the arithmetic by hand, and the shipped
device profiles, each figure with its source."""

from __future__ import annotations

import pytest

from bench_lib.costs.project import DeviceProfile, fits, load_profiles, project_step_s, work_s

GPU = DeviceProfile(key="g", name="g", flops_fp32=1e12, bandwidth=1e11, memory_gib=1,
                    eager_op_s=1e-5,
                    graph_op_s=1e-6, graph_launch_s=1e-5, source="s", overhead_source="s")


def test_each_kind_at_its_bound_by_hand():
    costs = {"matmul": [2, 4e9, 1e9], "elementwise": [10, 1e8, 2e9]}
    # matmul: max(4e9 / 1e12, 1e9 / 1e11) = 10 ms (memory); elementwise: max(1e-4, 2e-2) = 20 ms
    assert work_s(costs, GPU) == pytest.approx(0.010 + 0.020)
    # the device's work is longer
    assert project_step_s(costs, 12, GPU, "eager") == pytest.approx(0.030)
    # the host's launches are
    assert project_step_s(costs, 5000, GPU, "eager") == pytest.approx(5000 * 1e-5)
    assert project_step_s(costs, 12, GPU, "cudagraphs") == pytest.approx(0.030 + 12e-6 + 1e-5)
    assert project_step_s(costs, 12, GPU, "cpu") == pytest.approx(0.030 + 12e-5)
    measured = DeviceProfile(**{**GPU.__dict__, "rates": {"matmul": (1e11, 1e12)}})
    assert work_s({"matmul": [2, 4e9, 1e9]}, measured) == pytest.approx(0.04)  # a kind's own rates
    with pytest.raises(ValueError, match="unknown kinds of operator \\['conv'\\]"):
        work_s({"conv": [1, 1, 1]}, GPU)
    with pytest.raises(ValueError, match="unknown execution 'xla'"):
        project_step_s(costs, 1, GPU, "xla")


def test_rates_by_operator_size_and_the_denormal_penalty_by_hand():
    cpu = DeviceProfile(**{**GPU.__dict__, "rates": {"copy": [(1e6, 1.0, 4e9), (1e3, 1.0, 8e9)]},
                           "denormal_s": {"matmul": (1e-9, 0.0)}})
    # held below the sizes measured
    assert cpu.rate("copy", 1e2) == (1.0, 8e9)
    assert cpu.rate("copy", 10 ** 4.5) == pytest.approx((1.0, 6e9))     # half-way in log size
    assert cpu.rate("copy", 1e9) == (1.0, 4e9)                          # and above
    # a kind not measured: the peaks
    assert cpu.rate("matmul") == (1e12, 1e11)
    # 10 copies of 1e6 bytes each: 1e7 bytes at 4e9 bytes/s
    assert work_s({"copy": [10, 0, 1e7]}, cpu) == pytest.approx(1e7 / 4e9)
    # a matmul's work, plus 1 ns for each of its 2e6 denormal FLOPs; a record without them has none
    assert work_s({"matmul": [1, 4e9, 1e9, 2e6, 0]}, cpu) == pytest.approx(0.010 + 2e-3)
    assert work_s({"matmul": [1, 4e9, 1e9]}, cpu) == pytest.approx(0.010)
    # rates read at the size the average byte passes through: one copy of 1e6 bytes and 1000 of 1e3
    # bytes (2e6 bytes; squares 1e12 + 1e9) move their bytes in operators of about 5e5 bytes
    assert work_s({"copy": [1001, 0, 2e6, 0, 0, 1e12 + 1e9]}, cpu) == pytest.approx(
        2e6 / cpu.rate("copy", (1e12 + 1e9) / 2e6)[1])
    # a GPU: no penalty
    assert work_s({"matmul": [1, 4e9, 1e9, 2e6, 0]}, GPU) == pytest.approx(0.010)


def test_memory_fit():
    assert fits(512, 511, GPU) and not fits(512, 513, GPU)


def test_shipped_profiles_carry_their_sources(tmp_path):
    profiles = load_profiles()
    assert set(profiles) == {"a100-40gb", "h100-sxm", "h200"}
    assert profiles["a100-40gb"].bandwidth == 1555e9 and profiles["a100-40gb"].flops_fp32 == 19.5e12
    assert all("datasheet" in p.source and p.overhead_source.startswith("assumed")
               for p in profiles.values())
    bad = tmp_path / "d.toml"
    bad.write_text('[x]\nname = "x"\nflops_fp32 = 1.0\nbandwidth = 1.0\nmemory_gib = 1\neager_op_s '
                   '= 1e-5\n')
    with pytest.raises(ValueError, match=r"\[x\] needs a source"):
        load_profiles(bad)
    bad.write_text('[x]\nname = "x"\nflops = 1.0\n')
    with pytest.raises(ValueError, match=r"\[x\]: .*unexpected keyword argument 'flops'"):
        load_profiles(bad)
