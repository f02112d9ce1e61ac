"""Each pulse output counted on its own (issue 13): the pulse-output items of the default plan,
run as a user runs them on the simulated bench, kill every generated "pulse output constant"
mutant (meter.a1000.mutations: the output's pulses at 1.01 x its constant) and pass the healthy
meter beside them; the cable moves are logged with the run, and the bench file's wiring stored."""

from __future__ import annotations

from pathlib import Path

from reports.benchinfo import BENCH_CONFIG_EVENT
from reports.records import Verdict
from rig.mutants import all_mutants
from tests.plans import run_plan

ITEMS = ("pulse-output.active-import", "pulse-output.active-export",
         "pulse-output.reactive-q1q2", "pulse-output.reactive-q3q4")
#: Which items each mutant must fail: an S0 output's own item; a LED's, every item comparing an
#: output of its energy with it (the active LED is also the meter-constant item's).
FAILS = {
    "output.active_import.constant": {"pulse-output.active-import"},
    "output.active_export.constant": {"pulse-output.active-export"},
    "output.reactive_q1q2.constant": {"pulse-output.reactive-q1q2"},
    "output.reactive_q3q4.constant": {"pulse-output.reactive-q3q4"},
    "output.led_active.constant": {"pulse-output.active-import", "pulse-output.active-export"},
    "output.led_reactive.constant": {"pulse-output.reactive-q1q2", "pulse-output.reactive-q3q4"},
}


def test_every_pulse_output_constant_mutant_is_killed_and_the_healthy_meter_passes(
        tmp_path: Path) -> None:
    generated = sorted(m.id for m in all_mutants() if m.family == "pulse output constant")
    assert generated == sorted(FAILS), "a pulse output without its expected outcome here"
    # Position 1 is the healthy control; positions 2..7 each carry one mutant.
    defects = [a for k, mutant in enumerate(sorted(FAILS), start=2)
               for a in ("--defect", f"{k}=mutant:id={mutant}")]
    run = run_plan(["test_pulse_outputs.py"], tmp_path / "runs",
                   "--positions", str(1 + len(FAILS)), *defects)
    assert run.returncode == 1, run.out[-3000:]
    rows, events = run.rows, run.events
    verdicts = {(m.position, m.test_id.split("[")[-1].rstrip("]")): Verdict(m.verdict)
                for m in rows}
    assert len(verdicts) == len(rows) == (1 + len(FAILS)) * len(ITEMS)
    assert all(verdicts[(1, item)] is Verdict.PASS for item in ITEMS)
    for position, mutant in enumerate(sorted(FAILS), start=2):
        failed = {item for item in ITEMS if verdicts[(position, item)] is Verdict.FAIL}
        assert failed == FAILS[mutant], (mutant, failed)
        passed = {item for item in ITEMS if verdicts[(position, item)] is Verdict.PASS}
        assert passed == set(ITEMS) - FAILS[mutant], (mutant, passed)
    # A failure states what was applied and read: the output's and the LED's errors and inputs,
    # and the pulses per kWh the output gives against the LED's (1.01 of the constant).
    assert sorted(FAILS)[0] == "output.active_export.constant"  # at position 2
    failing = next(m for m in rows if m.position == 2 and m.verdict == "fail")
    assert "active_export) on input src-intern-1: error +1.0" in failing.message, failing.message
    assert "led_active on input src-intern-1" in failing.message
    assert "the output gives 1.0100 of the LED's pulses per kWh" in failing.message
    assert failing.raw["output"] == "active_export" and failing.raw["led"] == "led_active"
    # Each output item cabled every input to its output and back to the LEDs, logged.
    moves = [e.data for e in events if e.kind == "pulse_wiring"]
    outputs = [m["output"] for m in moves]
    assert outputs == ["active_import", "led", "active_export", "led", "reactive_q1q2", "led",
                       "reactive_q3q4", "led"], outputs
    assert all(sorted(m["inputs"], key=int) == [str(n) for n in range(1, 8)] for m in moves)
    assert moves[0]["inputs"]["1"] == "SC1" and moves[0]["inputs"]["2"] == "src-intern-1"
    # The bench file's wiring is stored with the run (benches/sim.yaml states none: `led`).
    (bench,) = [e.data for e in events if e.kind == BENCH_CONFIG_EVENT]
    assert [p["pulse_wiring"] for p in bench["positions"]] == [{}] * 7
