"""Plan files: the shipped plans load; bad plans name file, item and field; formulas."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rig.loads import Rating
from rig.plan import (
    PLANS_DIR,
    DemandItem,
    Measure,
    PlanError,
    critical_change_kwh,
    current_label,
    demand_limit_pct,
    load_plan,
    no_load_minutes,
    pulses_for,
)


@pytest.mark.parametrize("path", sorted(PLANS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_plans_load(path: Path) -> None:
    plan = load_plan(str(path))
    assert plan.plan == path.stem
    for item in plan.items:
        assert item.clause.strip()


def test_full_plan_covers_every_family_of_the_type_test() -> None:
    plan = load_plan("iec60687-class0.5S")
    assert set(plan.families()) == {
        "accuracy",
        "single_vs_balanced",
        "starting",
        "no_load",
        "meter_constant",
        "pulse_output",
        "register",
        "register_dosage",
        "register_capacity",
        "register_map",
        "register_rollover",
        "influence",
        "demand",
        "tou",
        "clock",
        "events",
        "billing",
        "load_profile",
        "interruption",
    }
    # Both energy directions at PF 1, the class index row (standards.md 1.2 [H]).
    pf1 = next(i for i in plan.items if i.id == "acc.bal.pf1")
    assert set(pf1.directions) == {"import", "export"}
    # 0.05 In ... Imax at 0.5 % (standards.md 1.2 [H]); the top point is the meter's own Imax.
    assert [p.limit for p in pf1.points
            if isinstance(p.current, str) or p.current >= 0.05] == [0.5] * 7
    assert pf1.points[-1].current == "Imax"


def test_currents_in_the_meters_own_terms() -> None:
    rating = Rating(un=220.0, in_=5.0, imax=10.0, meter_constant=1000.0,
                    reactive_constant=1000.0, wiring="3P4W", accuracy_class="0.5S")
    assert rating.multiple(0.05) == 0.05
    assert rating.multiple("Imax") == 2.0
    assert rating.multiple("0.5Imax") == 1.0
    # standards.md 1.1: the range starts at 0.01 In; 1.4: the meter starts at 0.001 In.
    assert rating.multiple("Imin") == 0.01
    assert rating.multiple("Ist") == 0.001
    assert current_label("Imax") == "Imax" and current_label(0.05) == "0.05In"
    with pytest.raises(ValueError, match="Ist of a class 1 meter is not known"):
        Rating(220.0, 5.0, 10.0, 1000.0, 1000.0, "3P4W", "1").multiple("Ist")


def test_a_current_the_rating_cannot_name_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + """  - id: a
    family: accuracy
    clause: xyz
    pf: "1"
    points: [{current: Inmax, limit: 1}]
""")
    with pytest.raises(PlanError, match=r"item 'a' field points.0.current"):
        load_plan(str(path))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


HEADER = """plan: bad
version: "1"
title: t
meter_class: 0.5S
standards: [x]
items:
"""


def test_unknown_field_names_file_item_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + """  - id: acc.one
    family: accuracy
    clause: Table 9
    pf: "1"
    points: [{current: 1.0, limit: 0.5}]
    colour: red
""",
    )
    with pytest.raises(PlanError) as exc:
        load_plan(str(path))
    text = str(exc.value)
    assert str(path) in text and "'acc.one'" in text and "colour" in text


def test_bad_power_factor_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + """  - id: acc.one
    family: accuracy
    clause: Table 9
    pf: "0.7L"
    points: [{current: 1.0, limit: 0.5}]
""",
    )
    with pytest.raises(PlanError, match=r"'acc.one' field pf"):
        load_plan(str(path))


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    item = """  - id: same
    family: clock
    clause: manual 3.2.3
    duration_h: 1
    limit_s_per_day: 0.5
"""
    with pytest.raises(PlanError, match="used twice"):
        load_plan(str(_write(tmp_path, HEADER + item + item)))


def test_rolling_demand_needs_an_interval(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + """  - id: d
    family: demand
    clause: manual 3.2.2
    mode: rolling
    cycle_min: 15
    current: 1
""",
    )
    with pytest.raises(PlanError, match="interval_min"):
        load_plan(str(path))


def test_unknown_plan_lists_the_known_ones() -> None:
    with pytest.raises(PlanError, match=r"iec60687-class0\.5S"):
        load_plan("no-such-plan")


def test_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="not valid YAML"):
        load_plan(str(_write(tmp_path, "items: [unclosed")))


def test_no_load_minutes_worked_example() -> None:
    # standards.md 1.4: 3x57.7 V, Imax 6 A, k 10000, m 3 -> 57.8 min (0.5S), 14.5 min at 230 V.
    assert no_load_minutes(600, 10_000, 3, 57.7, 6) == pytest.approx(57.8, abs=0.05)
    assert no_load_minutes(600, 10_000, 3, 230, 6) == pytest.approx(14.5, abs=0.05)


def test_pulse_count_follows_power_and_caps_at_max_duration() -> None:
    measure = Measure(min_pulses=5, target_s=20, max_s=120)
    # 3x230 V x 5 A = 3450 W at 10000 imp/kWh: 9.58 pulses/s -> 192 pulses in 20 s.
    assert pulses_for(10_000, 3450, measure) == math.ceil(10_000 * 3450 / 3.6e6 * 20)
    # Low power: the minimum count, unless that would exceed max_s.
    assert pulses_for(10_000, 17.25, measure) == 5
    assert pulses_for(1_000, 1.0, measure) == 1
    with pytest.raises(ValueError):
        pulses_for(10_000, 0, measure)


def test_critical_change_value_example() -> None:
    # standards.md 5.1 [H]: 3x57.7 V, Imax 6 A -> 1.04 Wh.
    assert critical_change_kwh(3, 57.7, 6) * 1000 == pytest.approx(1.0386)


def test_demand_limit_formula() -> None:
    item = DemandItem(
        id="d", family="demand", clause="3.2.2", mode="block", cycle_min=15, current=1.0
    )
    # At Pn = Pm the A1000 limit is 0.55 %; at Pn = Pm/10 it is 1.0 %.
    assert demand_limit_pct(item, 1000, 1000) == pytest.approx(0.55)
    assert demand_limit_pct(item, 1000, 100) == pytest.approx(1.0)
