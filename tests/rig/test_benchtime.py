"""Bench time (rig.benchtime): every plan test's procedure states its planned time, the estimate
sums them and agrees with the simulated bench's timeline; a plan test without a planned time
stops the collection, naming its family."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from rig.benchtime import NoPlannedTime, build_procedure, minimum_seconds
from rig.loads import Rating
from rig.plan import AccuracyItem, ClockItem, Point, load_plan
from rig.procedures.clock import ClockDrift
from rig.procedures.errors import ErrorAtPoint
from rig.procedures.load_profile import INTERVAL_S
from rig.procedures.pulses import Starting

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
# The simulated bench's meters (benches/sim.yaml): 3x220 V, In 5 A, 1000 imp/kWh.
RATING = Rating(un=220.0, in_=5.0, imax=10.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")
ITEM = AccuracyItem(id="acc", clause="IEC 60687 Table 9", family="accuracy", pf="1",
                    points=(Point(current=1.0, limit=0.5),))


def test_a_procedure_is_built_from_the_tests_parameters_and_plans_its_own_time():
    """At In, PF 1: P = 3 x 220 V x 5 A = 3300 W, 1000 imp/kWh: 0.9167 pulses/s; the default
    measure asks 20 s of pulses: ceil(0.9167 x 20) = 19 pulses (the 120 s cap allows 110),
    gated over 19 periods of 1.0909 s each, two repetitions chained on the closing edge
    (rig.measure: one first edge opens the first gate) after 10 s of settling:
    10 + (2 x 19 + 1) x 1.0909 = 52.55 s."""
    params = {"plan_item": ITEM, "point": ITEM.points[0], "direction": "import"}
    procedure = build_procedure(ErrorAtPoint, params, RATING, "t")
    assert procedure == ErrorAtPoint(ITEM, ITEM.points[0], "import", RATING)
    assert procedure.planned_seconds() == pytest.approx(52.55, abs=0.01)


def test_the_minimum_is_the_planned_time_without_the_meter_line():
    """A 24 h clock item at 0.025 s: planned = 5 s settling + 2 clock readings + 86400 s; one
    reading is the sign-on 1.7 s + (2 + ceil(1 / 0.025)) x 0.43 s = 1.7 + 42 x 0.43 = 19.76 s
    (rig.linetime), so 86444.52 s; without the line 86405 s. An error at In has no meter
    communication: its minimum is its planned time (53.64 s, above)."""
    item = ClockItem(id="c", clause="A1000 manual 3.2.3", family="clock", duration_h=24,
                     limit_s_per_day=0.5)
    clock = ClockDrift(item, RATING)
    assert clock.planned_seconds() == pytest.approx(86444.52)
    assert minimum_seconds(clock) == pytest.approx(86405.0)
    assert clock.planned_seconds() == pytest.approx(86444.52)  # the line is back after it
    error = ErrorAtPoint(ITEM, ITEM.points[0], "import", RATING)
    assert minimum_seconds(error) == pytest.approx(error.planned_seconds())


def test_a_parameter_the_procedure_needs_and_the_test_lacks_is_named():
    with pytest.raises(NoPlannedTime, match=r"t: procedure ErrorAtPoint needs 'direction'"):
        build_procedure(ErrorAtPoint, {"plan_item": ITEM, "point": ITEM.points[0]}, RATING, "t")


CLOCK_PLAN = """plan: one-clock
version: "0.1"
title: one clock item
meter_class: 0.5S
standards: [IEC 60687]
items:
  - id: clock.1h
    family: clock
    clause: A1000 manual 3.2.3
    duration_h: 1
    limit_s_per_day: 0.5
"""


def _collect(pytester: pytest.Pytester, tests: str) -> pytest.RunResult:
    (pytester.path / "plan.yaml").write_text(CLOCK_PLAN)
    pytester.makepyfile(test_plan=tests)
    return pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
                              "--plan", str(pytester.path / "plan.yaml"), "--collect-only")


def test_a_plan_test_without_a_procedure_stops_the_collection_naming_its_family(
    pytester: pytest.Pytester,
) -> None:
    result = _collect(pytester, """
import pytest

@pytest.mark.family("clock")
def test_clock(plan_item):
    pass
""")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_plan.py::test_clock[[]clock.1h[]]: plan family "
                                 "'clock' names no procedure*its planned bench time is unknown"])


def test_a_procedure_without_a_planned_time_stops_the_collection_naming_its_family(
    pytester: pytest.Pytester,
) -> None:
    result = _collect(pytester, """
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Untimed:
    item: object
    rating: object


@pytest.mark.family("clock")
@pytest.mark.procedure.with_args(Untimed)
def test_clock(plan_item, procedure):
    pass
""")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_clock[[]clock.1h[]]: plan family 'clock': procedure "
                                 "Untimed states no planned bench time*"])


def test_the_estimate_agrees_with_the_simulated_timeline_per_family(tmp_path: Path) -> None:
    """The default plan on the simulated bench at real line timing (the simulator's default):
    every family's estimate (the procedures' planned times summed before the run) within 5 % of
    the virtual time its tests took, and the total too (issue 14); the starting family within
    the spread of the meter's pulse phase, demand and load profile within 5 % or the spread of
    the meter's boundary phase."""
    out = tmp_path / "timeline.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "testplans", "-q", "-p", "no:cacheprovider",
         "-p", "rig.timeline", "--timeline", str(out), "--no-report",
         "--runs-dir", str(tmp_path / "runs")],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text(encoding="utf-8"))
    estimate: dict[str, float] = defaultdict(float)
    timeline: dict[str, float] = defaultdict(float)
    for r in rows:
        estimate[r["family"]] += r["estimate_s"]
        timeline[r["family"]] += r["timeline_s"]
    plan = load_plan("iec60687-class0.5S")
    assert set(timeline) == set(plan.families())
    # A demand or load-profile test after another family's test meets the meter's interval
    # boundaries at an unknown phase: a demand test (planned: two cycles, the mean) takes up to
    # half a cycle more or less; a load-profile test waits 0 to one interval for its first
    # boundary (planned: half, rig.schedule.unaligned_waits). The rows are in run order.
    spread: dict[str, float] = defaultdict(float)
    items = {i.id: i for i in plan.by_family("demand")}
    for before, r in zip([None, *rows], rows, strict=False):
        if before is not None and before["family"] == r["family"]:
            continue
        if r["family"] == "demand":  # test ids test_maximum_demand[ITEM]
            item = items[r["nodeid"].split("[", 1)[1].rstrip("]")]
            spread["demand"] += item.cycle_min * 60.0 / 2
        elif r["family"] == "load_profile":
            spread["load_profile"] += INTERVAL_S / 2
    off = {f: round(estimate[f] / timeline[f], 3) for f in timeline
           if f != "starting" and abs(estimate[f] / timeline[f] - 1) > 0.05
           and abs(estimate[f] - timeline[f]) > spread[f]}
    assert not off, f"estimate / timeline off by more than 5 %: {off}"
    assert sum(estimate.values()) == pytest.approx(sum(timeline.values()), rel=0.05)
    # The starting tests end at the meter's pulses, whose phase is the meter's: the estimate
    # takes the first pulse's mean wait, and each test may take up to half an ideal period
    # more or less (the simulated meter's phase is not the same from run to run).
    spread = sum(Starting(item, RATING, d).window_s()[1] / 2
                 for item in plan.by_family("starting") for d in item.directions)
    assert abs(estimate["starting"] - timeline["starting"]) <= spread
