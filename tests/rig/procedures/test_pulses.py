"""The starting test ends at the pulse: compared with counting over the whole window (the
method before) on the simulated bench, the same pulses and verdicts, in less bench time."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

PLAN = """plan: starting
version: "0.1"
title: active starting current
meter_class: 0.5S
standards: [IEC 60687]
items:
  - id: start.active
    family: starting
    clause: IEC 60687 / 62053-22:2003 8.3.3 (standards.md 1.4 [H])
    current: Ist
    directions: [import]
"""

# Both methods at one point on the same bench: the pulses counted over the whole window (the
# method before: the wait set for the worst case) and ended at the pulse (Starting.measure).
BOTH = '''
import json
import os

import pytest

from rig.measure import count_pulses, settle
from rig.procedures import Context
from rig.procedures.pulses import SETTLING_S, Starting


@pytest.mark.family("starting")
@pytest.mark.procedure.with_args(Starting)
def test_both_methods(plan_item, direction, rig, procedure):
    ctx = Context.of(rig)
    window, period = procedure.window_s()
    constant = procedure.rating.constant(plan_item.energy)
    out = {}
    for name, expected in (("window", None), ("at the pulse", (plan_item.pulses - 1) * period)):
        settle(ctx.bench, ctx.timebase, procedure.load(), SETTLING_S)
        t0 = ctx.timebase.now()
        counts = count_pulses(ctx.bench, ctx.timebase, plan_item.energy, constant,
                              ctx.numbers, plan_item.pulses, window, expected_s=expected)
        out[name] = {"counts": counts, "seconds": ctx.timebase.now() - t0}
    out["period"] = period
    with open(os.environ["BOTH_OUT"], "w") as f:
        json.dump(out, f)
'''


def _both(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    (pytester.path / "plan.yaml").write_text(PLAN)
    pytester.makepyfile(test_both=BOTH)
    out = pytester.path / "both.json"
    monkeypatch.setenv("BOTH_OUT", str(out))
    result = pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
                                "--plan", str(pytester.path / "plan.yaml"), "--no-report",
                                "--runs-dir", str(pytester.path / "runs"), *args)
    result.assert_outcomes(passed=1)
    return json.loads(out.read_text())


def test_a_meter_that_starts_ends_the_test_at_its_pulse(pytester, monkeypatch) -> None:
    """At Ist = 0.001 In (5 mA on 3 x 220 V: 3.3 W, 1000 imp/kWh): an ideal period of
    3.6e6 / 3300 = 1090.9 s; the window is (2 + 1) x 1.5 = 4.5 periods (4909 s). Both methods
    count the 2 pulses; at the pulse the count ends within 2 periods of the start (the first
    pulse within one, the second one later) plus a poll step (1/20 of the window)."""
    both = _both(pytester, monkeypatch, "--positions", "2")
    period = both["period"]
    assert period == pytest.approx(3.6e6 / (3 * 220 * 0.005 * 1000), rel=1e-3)
    window, pulse = both["window"], both["at the pulse"]
    assert window["counts"] == pulse["counts"] == {"1": 2, "2": 2}
    assert window["seconds"] == pytest.approx(4.5 * period, rel=1e-3)
    assert pulse["seconds"] <= 2 * period + 4.5 * period / 20 + 1


def test_a_meter_that_does_not_start_fails_both_ways_over_the_whole_window(
    pytester, monkeypatch
) -> None:
    """starting_threshold_high on position 2 (nothing registers below 0.003 In): no pulse in
    the window either way, while position 1 counts its 2; the count waits the window out."""
    both = _both(pytester, monkeypatch, "--positions", "2", "--defect",
                 "2=starting_threshold_high")
    window, pulse = both["window"], both["at the pulse"]
    assert window["counts"] == pulse["counts"] == {"1": 2, "2": 0}
    assert pulse["seconds"] == pytest.approx(window["seconds"], rel=1e-3)
