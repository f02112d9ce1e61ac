"""The simulated meters' rating follows the bench file (issue 13 item 7)."""

from __future__ import annotations

import pytest
import yaml

from rig.sim import SimBench
from rig.sim.meters import MeterBuildError, nominal_for, position_overrides
from tests.rig.sim.conftest import SIM_BENCH


def test_the_nominal_is_the_bench_un() -> None:
    # A1000 manual 3.2.1: 3-phase 4-wire 58 V and 220 V, 3-phase 3-wire 100 V.
    assert nominal_for("3P4W", 220.0) == "3x220/380"
    assert nominal_for("3P4W", 57.7) == "3x57.7/100"
    assert nominal_for("3P3W", 57.7) == "3x100"


def test_a_un_the_meter_is_not_rated_for_is_refused() -> None:
    # 230 V applied to a 3x220/380 V meter puts every reference point at 1.045 Un.
    with pytest.raises(MeterBuildError, match=r"un 230 V is not a nominal .*220 V \(3x220/380\)"):
        nominal_for("3P4W", 230.0)


def test_the_shipped_sim_bench_matches_its_meters() -> None:
    bench = yaml.safe_load(SIM_BENCH.read_text())
    for pos in bench["positions"]:
        assert position_overrides(pos)["nominal"] == "3x220/380"
        assert pos["un"] == 220


def test_a_mismatched_bench_names_the_position() -> None:
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["positions"][0]["un"] = 230
    with pytest.raises(MeterBuildError, match=r"position 1: un 230 V"):
        SimBench(bench=bench).__enter__()
