"""The scheduler (rig.schedule): background clock items run during the families that meet their
load condition, never across a conflicting one, proven statically on the default plan's
collected order and at run time by the session's load log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reports.benchtime import BENCH_TIME
from reports.records import Verdict
from reports.store import ResultsStore
from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating
from rig.plan import current_label, load_plan
from rig.schedule import (
    Applied,
    Condition,
    LoadLog,
    ScheduledTest,
    background_condition,
    conflicts,
    host_condition,
    meets,
    schedule,
)
from tests.plans import default_items, plan_with

ROOT = Path(__file__).resolve().parents[2]
# The simulated bench's meters (benches/sim.yaml): 3x220 V, In 5 A, Imax 10 A.
RATING = Rating(un=220.0, in_=5.0, imax=10.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")


def test_the_no_current_condition_admits_creep_and_starting_loads_only() -> None:
    # Creep at 1.15 Un = 253 V (inside 0.8-1.15 Un); starting at 0.001 In = 5 mA and the
    # reactive 0.003 In = 15 mA (both <= 0.01 In = 50 mA).
    assert meets(Condition.NO_CURRENT, LoadPoint.voltage_only(253.0), RATING) == ""
    assert meets(Condition.NO_CURRENT, LoadPoint.at(220.0, 5.0, 0.001), RATING) == ""
    assert meets(Condition.NO_CURRENT, LoadPoint.at(220.0, 5.0, 0.003, "0.5L"), RATING) == ""
    # 0.1 In = 0.5 A heats the current circuits: a conflict, named by phase and value.
    assert "L1 carries 0.5 A, above 0.01 In (0.05 A)" in meets(
        Condition.NO_CURRENT, LoadPoint.at(220.0, 5.0, 0.1), RATING)
    # Power down (every voltage off) and a source switched off both end the meter's supply.
    assert "L1 at 0 V" in meets(Condition.NO_CURRENT, LoadPoint.balanced(0.0, 0.0), RATING)
    assert "source is off" in meets(Condition.NO_CURRENT, None, RATING)
    # 0.7 Un = 154 V is below the extended operating range (0.8 Un = 176 V).
    assert "outside 0.8-1.15 Un" in meets(Condition.NO_CURRENT, LoadPoint.voltage_only(154.0),
                                          RATING)


def test_the_rated_current_condition_admits_any_energised_load_the_mean_decides() -> None:
    """Each load needs only the voltage on (the meter energised); what heats the clock is the
    window's mean I^2 (the next test): a read at Un alone, a base of 0.5 In or one element at
    In all heat less than In would, and the mean counts them so."""
    assert meets(Condition.AT_LEAST_IN, LoadPoint.at(220.0, 5.0, 2.0), RATING) == ""  # Imax
    assert meets(Condition.AT_LEAST_IN, LoadPoint.voltage_only(220.0), RATING) == ""  # a read
    assert meets(Condition.AT_LEAST_IN, LoadPoint.at(220.0, 5.0, 0.5), RATING) == ""
    assert meets(Condition.AT_LEAST_IN, LoadPoint.at(220.0, 5.0, 1.0, element="L1"),
                 RATING) == ""
    # A power-down or a voltage out of range is a conflict on its own.
    assert "L1 at 0 V" in meets(Condition.AT_LEAST_IN, LoadPoint.balanced(0.0, 0.0), RATING)
    assert "source is off" in meets(Condition.AT_LEAST_IN, None, RATING)
    # 1.2 Un (the over-voltage event) is above the extended range (1.15 Un = 253 V).
    over = LoadPoint.at(220.0, 5.0, 1.0).with_voltages(264.0, 220.0, 220.0)
    assert "L1 at 264 V, outside 0.8-1.15 Un" in meets(Condition.AT_LEAST_IN, over, RATING)


def test_a_base_below_in_counts_in_the_mean_with_its_own_current() -> None:
    """A block-demand host: 25 min at the base 0.5 In (2.5 A, 6.25 A^2) and 15 min at In
    (25 A^2) average (25 x 6.25 + 15 x 25) / 40 = 13.28 A^2, below In^2 alone; with 1 h at Imax
    (100 A^2) after it the window averages (156.25 + 375 + 6000) / 100 = 65.3 A^2."""
    log = LoadLog()
    log.test = "demand"
    log.note(0.0, LoadPoint.at(220.0, 5.0, 0.5))
    log.note(25 * 60.0, LoadPoint.at(220.0, 5.0, 1.0))
    (short, *_) = conflicts(Condition.AT_LEAST_IN, log.between(0.0, 40 * 60.0), RATING)
    assert short.startswith("L1: mean I^2 over the window 13.28 A^2 is below In^2 (25 A^2)")
    log.test = "dose"
    log.note(40 * 60.0, LoadPoint.at(220.0, 5.0, 2.0))
    assert conflicts(Condition.AT_LEAST_IN, log.between(0.0, 100 * 60.0), RATING) == []


def test_each_plan_test_hosts_by_its_own_item_and_point() -> None:
    """Per item, not per family: the block-demand items at In host the rated-current clock and
    the rolling one at 0.5 In does not; the load-profile items without their power-down do and
    the one with it does not; accuracy points by their current; the events whose fault keeps the
    voltages at Un."""
    plan = load_plan("iec60687-class0.5S")
    by_id = {i.id: i for i in plan.items}
    at_in = Condition.AT_LEAST_IN
    assert host_condition(by_id["demand.block15"]) is at_in
    assert host_condition(by_id["demand.block15.t3"]) is at_in
    assert host_condition(by_id["demand.rolling15-5"]) is None
    assert host_condition(by_id["load-profile"]) is None  # its outage powers the meter down
    assert all(host_condition(by_id[f"load-profile.{q}"]) is at_in
               for q in ("export", "q1", "q2", "q3", "q4"))
    acc, l1 = by_id["acc.bal.pf1"], by_id["acc.l1.pf1"]
    by_label = {str(p.current): p for p in acc.points}
    assert host_condition(acc, by_label["1.0"]) is at_in
    assert host_condition(acc, by_label["Imax"]) is at_in
    assert host_condition(acc, by_label["0.5"]) is None
    assert host_condition(acc, by_label["0.01"]) is Condition.NO_CURRENT
    assert host_condition(acc, by_label["0.02"]) is None
    # L1 alone at In: L2 and L3 at Un without current, counted in the window's mean.
    assert host_condition(l1, l1.points[1]) is at_in
    assert host_condition(l1, l1.points[0]) is None  # 0.05 In
    assert host_condition(by_id["acc.single-vs-balanced-pf05l"]) is at_in
    assert host_condition(by_id["event.over-current.l2"]) is at_in
    assert host_condition(by_id["event.err1-phase-sequence"]) is at_in
    assert host_condition(by_id["event.voltage-loss.l1"]) is None
    assert host_condition(by_id["event.err1-over-voltage.l1"]) is None
    assert host_condition(by_id["tou.priority"]) is None  # sets the meter clock
    assert host_condition(by_id["billing.monthly"]) is None
    assert host_condition(by_id["no-load"]) is Condition.NO_CURRENT


def test_a_window_mostly_at_un_alone_is_below_rated_current_on_average() -> None:
    """Mean I^2 over the window: 1 h at Imax (10 A, 100 A^2) and 3 h at Un alone give
    100 / 4 = 25 A^2 = In^2: just enough; 1 h at Imax and 4 h at Un give 20 A^2: too little."""
    dose, read = LoadPoint.at(220.0, 5.0, 2.0), LoadPoint.voltage_only(220.0)
    log = LoadLog()
    log.test = "dose"
    log.note(0.0, dose)
    log.note(3600.0, read)
    assert conflicts(Condition.AT_LEAST_IN, log.between(0.0, 4 * 3600.0), RATING) == []
    (short,) = conflicts(Condition.AT_LEAST_IN, log.between(0.0, 5 * 3600.0), RATING)[:1]
    assert short.startswith("L1: mean I^2 over the window 20 A^2 is below In^2 (25 A^2)")


def test_the_load_log_names_the_test_and_load_that_broke_the_window() -> None:
    log = LoadLog()
    log.test = "start"
    log.note(0.0, LoadPoint.voltage_only(220.0))
    log.test = "testplans/test_accuracy.py::test_x"
    log.note(100.0, LoadPoint.at(220.0, 5.0, 0.1))
    log.test = "end"
    log.note(200.0, LoadPoint.voltage_only(220.0))
    # The load before the window counts from the window's start; the one after it not at all.
    spans = log.between(50.0, 150.0)
    assert [(e.test, d) for e, d in spans] == [("start", 50.0),
                                                ("testplans/test_accuracy.py::test_x", 50.0)]
    assert conflicts(Condition.NO_CURRENT, spans, RATING) == [
        "testplans/test_accuracy.py::test_x: L1 220 V 0.5 A, L2 220 V 0.5 A, L3 220 V 0.5 A: "
        "L1 carries 0.5 A, above 0.01 In (0.05 A)"]
    assert conflicts(Condition.NO_CURRENT, [(Applied(0.0, None, "t"), 1.0)], RATING) == [
        "t: source off: the source is off (the meter is not energised)"]


def test_each_window_gets_the_families_that_meet_its_condition() -> None:
    tests = [ScheduledTest("acc", "accuracy", "acc", 100.0),
             ScheduledTest("c0s", "clock", "c0", 10.0, "start", Condition.NO_CURRENT),
             ScheduledTest("c0e", "clock", "c0", 100.0, "end", Condition.NO_CURRENT),
             ScheduledTest("c1s", "clock", "c1", 10.0, "start", Condition.AT_LEAST_IN),
             ScheduledTest("c1e", "clock", "c1", 100.0, "end", Condition.AT_LEAST_IN),
             ScheduledTest("dose", "meter_constant", "mc", 300.0, hosts=Condition.AT_LEAST_IN),
             ScheduledTest("creep", "no_load", "nl", 40.0, hosts=Condition.NO_CURRENT),
             ScheduledTest("irq", "interruption", "i", 5.0)]
    plan = schedule(tests, {"c0": 100.0, "c1": 100.0})
    assert plan.order == ["acc", "c0s", "creep", "c0e", "c1s", "dose", "c1e", "irq"]
    assert [(w.item_id, w.overlap_s) for w in plan.windows] == [("c0", 40.0), ("c1", 100.0)]
    assert plan.overlap_of("c0e") == 40.0 and plan.overlap_of("acc") == 0.0


def test_a_clock_item_between_no_load_and_in_has_no_host() -> None:
    (item,) = [i for i in load_plan("iec60687-class0.5S").by_family("clock") if i.current == 1]
    assert background_condition(item) is Condition.AT_LEAST_IN
    assert background_condition(item.model_copy(update={"current": 0.5})) is None


def _collected_order() -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "testplans", "--collect-only", "-q",
         "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [line for line in proc.stdout.splitlines() if line.startswith("testplans/")]


def test_the_default_plans_order_never_puts_a_conflicting_host_in_a_window() -> None:
    """Static proof on the order pytest runs: between each clock item's start and end every
    test's item (and point) declares loads that meet the item's condition (host_condition; the
    loads themselves are checked at run time by the item's end)."""
    plan = load_plan("iec60687-class0.5S")
    order = _collected_order()
    seen = 0
    for item in plan.by_family("clock"):
        start = order.index(f"testplans/test_clock.py::test_clock_start[{item.id}]")
        end = order.index(f"testplans/test_clock.py::test_clock_drift[{item.id}]")
        assert start < end
        condition = background_condition(item)
        for nodeid in order[start + 1:end]:
            # The test's plan item: the longest item id its parameters start with.
            param = nodeid.split("[", 1)[1]
            host = max((i for i in plan.items if param.startswith(i.id)), key=lambda i: len(i.id))
            # An accuracy test's point: the current label after the item id (test ids
            # `item-0.01In-import`, `item-Imax-export`).
            label = param[len(host.id) + 1:].split("-", 1)[0]
            point = next((p for p in getattr(host, "points", ())
                          if current_label(p.current) == label), None)
            declared = host_condition(host, point)
            assert declared is condition, (
                f"{nodeid} ({host.family}) runs inside {item.id}'s window "
                f"({condition.value}) but its item declares {declared}")
            seen += 1
    assert seen > 0  # the default plan does host something


def _run_plan(tmp_path: Path, hosts: list[dict], *args: str,
              clock_id: str = "clock.drift") -> tuple[int, str, list, list[dict]]:
    """The clock item `clock_id` shortened to 4 h (checkpoints every hour) with `hosts` from
    the default plan, on one simulated position; pytest's code, output, the stored rows and the
    stored bench times."""
    (clock,) = default_items(clock_id)
    plan = plan_with(tmp_path / "plan.yaml", [{**clock, "duration_h": 4}, *hosts])
    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-report",
         "--rootdir", str(ROOT), str(ROOT / "testplans"),
         "--plan", str(plan), "--positions", "1", "--runs-dir", str(runs), *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=900)
    with ResultsStore.in_runs_dir(runs) as store:
        (run,) = store.list_runs()
        rows = store.measurements(run.run_id)
        times = [e.data for e in store.events(run.run_id) if e.kind == BENCH_TIME]
    return proc.returncode, proc.stdout + proc.stderr, rows, times


NO_LOAD_HOSTS = ("no-load", "no-load.reactive", "start.active", "start.reactive")


def test_a_clock_run_across_its_hosts_passes_with_readings_taken_between_them(
    tmp_path: Path,
) -> None:
    code, out, rows, times = _run_plan(tmp_path, default_items(*NO_LOAD_HOSTS))
    assert code == 0, out[-3000:]
    clock = sorted((r for r in rows if r.quantity.startswith("clock error")),
                   key=lambda r: r.point["elapsed_s"])
    assert [r.point["elapsed_s"] for r in clock] == [3600.0, 7200.0, 10800.0, 14400.0]
    assert all(r.raw["background"] and Verdict(r.verdict) is Verdict.PASS for r in clock)
    # The hosts take about 4 h 14 min (their estimate): the first checkpoints fall due during
    # them and are read after the host running then ends, so their spans exceed the checkpoint
    # and the limit follows the span: +-0.5 s/day x span.
    first = clock[0]
    assert first.raw["span_s"] > 3600.0
    assert first.limit_high == pytest.approx(0.5 * first.raw["span_s"] / 86400.0)
    # +1 ppm (the healthy model) over the span, within the two brackets (+-0.025 s).
    assert abs(first.value - 1e-6 * first.raw["span_s"]) <= 0.025 + 1e-9
    # Every test's bench time is stored with the run, the end's estimate without the 4 h 14 min
    # its hosts cover: the clock's whole window (4 h) is covered, so its end plans its own
    # readings only, and took less than a minute of bench time.
    end = next(t for t in times if t["nodeid"].endswith("test_clock_drift[clock.drift]"))
    assert len(times) == 1 + 6 + 1 and end["estimate_s"] < 60.0 and end["timeline_s"] < 60.0


def test_the_rated_current_clock_runs_across_the_quadrant_and_map_doses(tmp_path: Path) -> None:
    """The register families dose at Imax and read at Un alone: every load meets the rated
    current condition and the window's mean I^2 is above In^2, so the clock passes there."""
    code, out, rows, _ = _run_plan(tmp_path, default_items("registers.quadrants",
                                                            "registers.map"),
                                   clock_id="clock.drift-in")
    assert code == 0, out[-3000:]
    assert "clock.drift-in (mean I^2 >= In^2 on every phase, voltage on" in out
    clock = [r for r in rows if r.quantity.startswith("clock error")]
    assert len(clock) == 4 and all(r.raw["background"] and r.raw["load_in"] == 1.0
                                   for r in clock)


def test_the_rated_current_clock_runs_across_its_per_item_hosts(tmp_path: Path) -> None:
    """The hosts per item: a block-demand item at In with a tariff held (it enters the
    programming state, writes the demand settings and the tariff calendar, resets the maxima),
    a load-profile item without its power-down, an over-current event and a balanced accuracy
    point at Imax, beside the quadrant doses at Imax: every load is energised, the window's mean
    I^2 stays above In^2, and the clock's readings across them (the A1000 model keeps one clock
    whatever is programmed) pass at +1 ppm."""
    acc = {**default_items("acc.bal.pf1")[0], "directions": ["import"],
           "points": [{"current": "Imax", "limit": 0.5}]}
    hosts = [acc, *default_items("demand.block15.t1", "load-profile.q1",
                                 "event.over-current.l1", "registers.quadrants")]
    code, out, rows, _ = _run_plan(tmp_path, hosts, clock_id="clock.drift-in")
    assert code == 0, out[-3000:]
    for name in ("accuracy: acc.bal.pf1", "demand: demand.block15.t1",
                 "load_profile: load-profile.q1", "events: event.over-current.l1",
                 "register: registers.quadrants"):
        assert f"    {name}\n" in out, name
    clock = sorted((r for r in rows if r.quantity.startswith("clock error")),
                   key=lambda r: r.point["elapsed_s"])
    assert len(clock) == 4 and all(r.raw["background"] and Verdict(r.verdict) is Verdict.PASS
                                   for r in clock)
    assert all(abs(r.value - 1e-6 * r.raw["span_s"]) <= 0.025 + 1e-9 for r in clock)


def test_a_fast_clock_is_still_caught_in_the_background(tmp_path: Path) -> None:
    """fast_clock gains 2 s/day: after 1 h and more about +0.083 s against +-0.021 s."""
    code, out, rows, _ = _run_plan(tmp_path, default_items(*NO_LOAD_HOSTS), "--defect",
                                   "fast_clock")
    assert code == 1, out[-3000:]
    clock = [r for r in rows if r.quantity.startswith("clock error")]
    assert clock and all(Verdict(r.verdict) is Verdict.FAIL for r in clock)
    assert "test_clock_drift[clock.drift] FAILED" in out or "FAILED" in out


def test_a_conflicting_host_fails_the_clock_naming_the_test_and_its_load(
    tmp_path: Path,
) -> None:
    """The accuracy family, wrongly declared a no-current host (tests/rig/conflicting_host.py),
    applies In in the no-load clock's window: the clock's end fails and names it."""
    acc = default_items("acc.bal.pf1")[0]
    acc = {**acc, "directions": ["import"], "points": [{"current": 1.0, "limit": 0.5}]}
    code, out, rows, _ = _run_plan(tmp_path, [acc], "-p", "tests.rig.conflicting_host")
    assert code == 1, out[-3000:]
    assert ("clock.drift: a load applied in its window broke its condition (no current, "
            "voltage on)") in out, out[-3000:]
    assert "test_accuracy.py::test_error[acc.bal.pf1-1In-import]: L1 220 V 5 A" in out
    assert "L1 carries 5 A, above 0.01 In (0.05 A)" in out
    assert not [r for r in rows if r.quantity.startswith("clock error")]
