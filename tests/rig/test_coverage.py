"""The coverage matrix (issue 13 item 1): the default class 0.5S plan fills every cell it states,
it states the cells the type test needs, and a plan that drops one is caught."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rig.coverage import Cell, empty_cells, filled, item_cells, matrix_lines, stated_cells
from rig.plan import DEFAULT_PLAN, PLANS_DIR, load_plan

ROOT = Path(__file__).resolve().parents[2]

# The cells a class 0.5S type test must have, each with its source: both directions and every
# PF of the balanced table up to Imax (standards.md 1.2, 1.4 notes); every element at PF 1 and
# 0.5 L up to Imax (1.3, 1.4 notes); single minus balanced; voltage and frequency influence at
# PF 1 and 0.5 L (1.6); starting and no-load for active and reactive energy (1.4, 2.1); the
# registers by dosage in each direction and tariff (62053-22 8.4; A1000 manual Appendix A);
# the register capacity (5.1 [H]); events on every phase (A1000 manual 2.1.2); a history longer
# than its 16 records (manual 1.5 item 3); each of the four pulse outputs counted on its own
# (manual 1.1, Appendix C; the meter-constant rule of 1.4).
REQUIRED = [
    *(Cell("active energy error", "balanced", d, "active pulse output", f"PF {pf}{imax}")
      for d in ("import", "export") for pf in ("1", "0.5L", "0.8C") for imax in ("", " at Imax")),
    *(Cell("active energy error", e, "import", "active pulse output", f"PF {pf}{imax}")
      for e in ("L1", "L2", "L3") for pf in ("1", "0.5L") for imax in ("", " at Imax")),
    *(Cell("single minus balanced error", e, "import", "active pulse output", f"PF {pf}")
      for e in ("L1", "L2", "L3") for pf in ("1", "0.5L")),
    *(Cell("error variation", "balanced", "import", "active pulse output", f"{q} PF {pf}")
      for q in ("voltage -0.1", "voltage +0.1", "frequency -0.02", "frequency +0.02")
      for pf in ("1", "0.5L")),
    *(Cell(f"{energy} starting", "balanced", d, f"{energy} pulse output", "starting current")
      for energy in ("active", "reactive") for d in ("import", "export")),
    *(Cell(f"{energy} no-load", "none", "none", f"{energy} pulse output", "1.15 Un")
      for energy in ("active", "reactive")),
    *(Cell("active register by dosage", "balanced", d, f"{c}.8.{r}", f"tariff {t}")
      for d, c in (("import", 1), ("export", 2)) for t in (1, 2, 3, 4) for r in (0, t)),
    Cell("register capacity", "balanced", "import", "1.8.0", "1500 h at Imax"),
    *(Cell("event", e, "none", ev, "detected") for e in ("L1", "L2", "L3")
      for ev in ("voltage_loss", "phase_failure", "over_current")),
    Cell("automatic reading", "balanced", "import", "history *101..*116", "history overwritten"),
    Cell("retention", "balanced", "import", "energy registers", "power_down after PF 0.5L"),
    *(Cell("pulse output constant", "balanced", d, f"{o} against led_{e}", pf)
      for o, e, d, pf in (("active_import", "active", "import", "PF 1"),
                          ("active_export", "active", "export", "PF 1"),
                          ("reactive_q1q2", "reactive", "import", "sin phi 1"),
                          ("reactive_q3q4", "reactive", "export", "sin phi 1"))),
]


def test_the_default_plan_fills_every_cell_it_states() -> None:
    plan = load_plan(DEFAULT_PLAN)
    assert stated_cells(plan), "the default plan states no coverage"
    empty = empty_cells(plan)
    assert not empty, "empty cells:\n" + "\n".join(c.text() for c in empty)


def test_the_default_plan_states_what_the_type_test_needs() -> None:
    stated = set(stated_cells(load_plan(DEFAULT_PLAN)))
    missing = [c.text() for c in REQUIRED if c not in stated]
    assert not missing, "not stated:\n" + "\n".join(missing)


@pytest.mark.parametrize("path", sorted(PLANS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_item_of_the_shipped_plans_fills_cells(path: Path) -> None:
    for item in load_plan(str(path)).items:
        assert list(item_cells(item)), item.id


def _without(tmp_path: Path, item_id: str) -> Path:
    raw = yaml.safe_load((PLANS_DIR / f"{DEFAULT_PLAN}.yaml").read_text())
    raw["items"] = [i for i in raw["items"] if i["id"] != item_id]
    path = tmp_path / "reduced.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_plan_that_drops_an_element_leaves_its_cells_empty(tmp_path: Path) -> None:
    plan = load_plan(str(_without(tmp_path, "acc.l3.pf05l")))
    assert {c.text() for c in empty_cells(plan)} == {
        "active energy error | L3 | import | active pulse output | PF 0.5L",
        "active energy error | L3 | import | active pulse output | PF 0.5L at Imax",
    }


def test_imax_is_filled_only_by_a_point_at_the_ratings_imax(tmp_path: Path) -> None:
    raw = yaml.safe_load((PLANS_DIR / f"{DEFAULT_PLAN}.yaml").read_text())
    for item in raw["items"]:
        if item["id"] == "acc.bal.pf1":
            # 2 In is the simulated bench's Imax, but a number is not the meter's own Imax.
            item["points"] = [p if p["current"] != "Imax" else {**p, "current": 2.0}
                              for p in item["points"]]
    path = tmp_path / "numeric.yaml"
    path.write_text(yaml.safe_dump(raw))
    empty = {c.text() for c in empty_cells(load_plan(str(path)))}
    assert empty == {f"active energy error | balanced | {d} | active pulse output | PF 1 at Imax"
                     for d in ("import", "export")}


def test_matrix_lines_name_the_items_of_each_cell() -> None:
    plan = load_plan(DEFAULT_PLAN)
    lines = matrix_lines(plan)
    have = filled(plan)
    cell = Cell("event", "L2", "none", "voltage_loss", "detected")
    assert have[cell] == ["event.voltage-loss.l2"]
    assert f"  {cell.text()}: event.voltage-loss.l2" in lines
    assert lines[-1] == f"{len(stated_cells(plan))} stated cells, {len(stated_cells(plan))} " \
        "filled, 0 empty"


def _coverage_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "testplans", "-p", "no:cacheprovider", "--coverage",
         *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_pytest_coverage_prints_the_matrix_and_runs_nothing() -> None:
    proc = _coverage_run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "active energy error | L2 | import | active pulse output | PF 0.5L at Imax: " \
        "acc.l2.pf05l" in proc.stdout
    assert "passed" not in proc.stdout  # no plan test ran


def test_pytest_coverage_fails_on_an_empty_cell(tmp_path: Path) -> None:
    proc = _coverage_run("--plan", str(_without(tmp_path, "registers.capacity")))
    assert proc.returncode == 1
    assert "register capacity | balanced | import | 1.8.0 | 1500 h at Imax: EMPTY" in proc.stdout
