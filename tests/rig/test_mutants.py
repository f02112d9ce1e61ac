"""Mutation testing of the plan: a sample of generated mutants through the real stack (pytest
plan runs on the simulated bench, a position per mutant, verdicts read from the store); the
benchmark (benchmarks/bench_mutation.py) runs them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from meter.a1000.mutations import Mutant
from meter.readme import README
from rig.mutants import (
    CAPACITY_TESTS,
    MutationRunError,
    Outcome,
    all_mutants,
    load,
    load_explained,
    plan_for,
    run_batch,
    save,
    table_markdown,
)

BY_ID = {m.id: m for m in all_mutants()}


def test_a_sample_batch_kills_what_the_plan_measures() -> None:
    """Element L2 measuring 1 % high fails the L2 single-element points; the S- register of
    tariff 3 showing S+ is not what the accuracy points read, so it survives them; the healthy
    control (position 1) passes."""
    batch = [BY_ID["element.L2.gain"], BY_ID["register.s_export-t3.booking"]]
    gain, register = run_batch(
        batch, plan="iec60687-class0.5S", modules=["testplans/test_accuracy.py"],
        pytest_args=["-k", "acc.l2.pf1 or acc.l3.pf1"],
    )
    assert gain.killed and register.measured == gain.measured > 0
    assert all("acc.l2.pf1" in t for t in gain.killed_by)
    assert not register.killed


def test_a_rollover_is_killed_by_the_capacity_dose_of_its_register() -> None:
    """Import tariff 1 rolling over at 5 000 kWh: the 1500 h dose in Q1 with tariff 1 in force
    (3 x 220 V x 10 A x 1732 h x cos 60 deg = 5 716 kWh into 1.8.1) takes it past; the export
    total's rollover is not dosed by that test."""
    import_t1 = BY_ID["register.import-t1.rollover"]
    export_t0 = BY_ID["register.export-t0.rollover"]
    assert plan_for(import_t1) == (CAPACITY_TESTS, ())
    killed, survived = run_batch(
        [import_t1, export_t0], plan="iec60687-class0.5S",
        modules=["testplans/test_register_rollover.py"], pytest_args=["-k", "rollover-1-1"],
    )
    assert killed.killed_by == [
        "testplans/test_register_rollover.py::test_register_rollover[registers.rollover-1-1]"]
    assert not survived.killed and survived.measured == killed.measured == 1


def test_other_mutants_run_against_the_whole_plan_without_the_capacity_doses() -> None:
    modules, args = plan_for(BY_ID["element.L1.gain"])
    assert modules == ("testplans",)
    assert args == ("--deselect", CAPACITY_TESTS[0], "--deselect", CAPACITY_TESTS[1])


def test_a_batch_that_cannot_run_says_so(tmp_path: Path) -> None:
    with pytest.raises(MutationRunError, match="pytest exited 4"):
        run_batch([BY_ID["element.L1.gain"]], plan="iec60687-class0.5S",
                  modules=[str(tmp_path / "no_such_plan.py")])


def test_table_counts_and_names_survivors() -> None:
    a = Mutant("element.L1.gain", "element gain", "L1 high")
    b = Mutant("history.events.depth", "history depth", "9 kept")
    c = Mutant("calendar.weekend", "calendar rule", "weekend ignored")
    table = table_markdown(
        [Outcome(a, ["t::x"], 3), Outcome(b, [], 3), Outcome(c, [], 3)],
        {"history.events.depth": "not in the type test"},
    )
    assert table.startswith("3 mutants, 1 killed (33.3 %), 1 survivors explained, 1 unexplained.")
    assert "| `history.events.depth` | 9 kept | not in the type test |" in table
    assert "| `calendar.weekend` | weekend ignored | **unexplained: a gap of the plan** |" in table


def test_explanations_name_real_mutants_and_the_readme_has_the_table(tmp_path: Path) -> None:
    assert set(load_explained()) <= set(BY_ID)
    bad = tmp_path / "x.yaml"
    bad.write_text("- {id: element.L1.gain}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 1: expected"):
        load_explained(bad)
    assert "<!-- mutation-table:start -->" in README.read_text(encoding="utf-8")


def test_outcomes_saved_by_parts_load_in_the_generators_order(tmp_path: Path) -> None:
    first = [Outcome(BY_ID["history.events.depth"], [], 40, ["t::crashed"])]
    second = [Outcome(BY_ID["element.L1.gain"], ["t::a", "t::b"], 40)]
    save(first, tmp_path / "a.json")
    save(second, tmp_path / "b.json")
    got = load([tmp_path / "a.json", tmp_path / "b.json"])
    assert [o.mutant.id for o in got] == ["element.L1.gain", "history.events.depth"]
    assert got[0].killed_by == ["t::a", "t::b"] and got[1].crashed == ["t::crashed"]
