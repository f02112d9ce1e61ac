"""The coverage matrix of a plan: quantity x element x direction x register/output x condition.

Every check that can differ per element, direction, register, quadrant, tariff, event phase or
condition must run on each of them: a meter can be right on L1 and wrong on L2, right in import
and wrong in export. A plan file states the cells it must fill (its `coverage` rows, each the
product of its lists); each plan item fills the cells its method measures (`item_cells`). A
stated cell no item fills is *empty*: `pytest testplans --coverage` prints the matrix with the
items filling each cell, and tests/rig/test_coverage.py fails when the default class 0.5S plan
leaves one empty.

Currents count in the meter's own terms: a point at the rating's top is a point at "Imax"
(rig.plan.CurrentSpec), so a cell "PF 1 at Imax" is filled only by a point written `Imax`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rig.bench.outputs import LED_OF, METER_OUTPUTS
from rig.plan import Plan, current_label

#: Billing records the A1000 keeps (manual 1.5 item 3): a plan fills the overwrite cell only
#: with more periods than this.
HISTORY_DEPTH = 16
#: Active energy registers: C = 1 import, 2 export (A1000 manual Appendix A).
ACTIVE_C = {"import": 1, "export": 2}
#: Load-profile channels (A1000 manual 1.6; standards.md 7), the active one of each direction
#: and the reactive one of each direction and L/C load (IEC quadrants, standards.md 2.1: import
#: L is Q1, import C Q4, export L Q3, export C Q2).
LOAD_PROFILE_CHANNELS = ("1.29.0", "2.29.0", "5.29.0", "6.29.0", "7.29.0", "8.29.0")
LOAD_PROFILE_ACTIVE = {"import": "1.29.0", "export": "2.29.0"}
LOAD_PROFILE_QUADRANT = {("import", "L"): "5.29.0", ("export", "C"): "6.29.0",
                         ("export", "L"): "7.29.0", ("import", "C"): "8.29.0"}


def booked_registers(quadrant: int) -> dict[int, str]:
    """Energy registers (OBIS C) a load in IEC quadrant 1..4 advances, with the energy each
    books (standards.md 7: 1 A+ = QI+QIV, 2 A- = QII+QIII, 3 R+ = QI+QII, 4 R- = QIII+QIV,
    5..8 QI..QIV, 9 S+ = QI+QIV, 10 S- = QII+QIII)."""
    importing = quadrant in (1, 4)
    return {
        1 if importing else 2: "active",
        3 if quadrant in (1, 2) else 4: "reactive",
        4 + quadrant: "reactive",
        9 if importing else 10: "apparent",
    }


@dataclass(frozen=True, order=True)
class Cell:
    """One cell of the matrix."""

    quantity: str
    element: str
    direction: str
    target: str  # register, output or event
    condition: str

    def text(self) -> str:
        return " | ".join((self.quantity, self.element, self.direction, self.target,
                           self.condition))


#: Events the A1000 detects per phase (A1000 manual 2.1.2 codes 10-14, 20-24, 30-31, Appendix
#: B bits 0, 1, 4, 6); the others concern the meter as a whole.
PER_PHASE_EVENTS = frozenset({
    "voltage_loss", "phase_failure", "two_phase_failure", "over_current", "over_voltage",
    "under_voltage", "missing_current", "current_reversal",
})


def stated_cells(plan: Plan) -> list[Cell]:
    """The cells the plan file says it covers, in the file's order."""
    cells: list[Cell] = []
    for row in plan.coverage:
        for quantity in row.quantity:
            for element in row.elements:
                for direction in row.directions:
                    for target in row.targets:
                        for condition in row.conditions:
                            cell = Cell(quantity, element, direction, target, condition)
                            if cell not in cells:
                                cells.append(cell)
    return cells


def _pf(energy: str, pf: str) -> str:
    # Reactive items give sin phi (rig.loads), active ones cos phi.
    return f"sin phi {pf}" if energy == "reactive" else f"PF {pf}"


def item_cells(item: Any) -> Iterator[Cell]:
    """The cells one plan item fills (what its test module measures)."""
    family = item.family
    if family == "accuracy":
        for direction in item.directions:
            for point in item.points:
                condition = _pf(item.energy, item.pf)
                q = f"{item.energy} energy error"
                yield Cell(q, item.element, direction, f"{item.energy} pulse output", condition)
                if point.current == "Imax":
                    yield Cell(q, item.element, direction, f"{item.energy} pulse output",
                               f"{condition} at Imax")
    elif family == "single_vs_balanced":
        for element in item.elements:
            yield Cell("single minus balanced error", element, "import", "active pulse output",
                       f"PF {item.pf}")
    elif family == "starting":
        for direction in item.directions:
            yield Cell(f"{item.energy} starting", "balanced", direction,
                       f"{item.energy} pulse output", "starting current")
    elif family == "no_load":
        yield Cell(f"{item.energy} no-load", "none", "none", f"{item.energy} pulse output",
                   f"{item.voltage_factor:g} Un")
    elif family == "meter_constant":
        register = "1.8.0" if item.energy == "active" else "3.8.0"
        yield Cell("meter constant", "balanced", "import",
                   f"{register} against {item.energy} pulse output", _pf(item.energy, item.pf))
    elif family == "pulse_output":
        output = METER_OUTPUTS[item.output]
        yield Cell("pulse output constant", "balanced", output.direction,
                   f"{item.output} against {LED_OF[output.energy]}", _pf(output.energy, item.pf))
    elif family == "register":
        for q in (1, 2, 3, 4):
            yield Cell("reactive register by dosage", "balanced", "quadrant", f"{4 + q}.8.0",
                       f"Q{q}")
    elif family == "register_dosage":
        for direction in item.directions:
            c = ACTIVE_C[direction]
            for tariff in item.tariffs:
                for register in (f"{c}.8.0", f"{c}.8.{tariff}"):
                    yield Cell("active register by dosage", "balanced", direction, register,
                               f"tariff {tariff}")
    elif family in ("register_map", "register_rollover"):
        # The same doses: in each quadrant with each tariff in force, every register booked.
        capacity = family == "register_rollover"
        for quadrant in (1, 2, 3, 4):
            for tariff in item.tariffs:
                for c in booked_registers(quadrant):
                    for e in (0, tariff):
                        yield Cell(
                            "register capacity" if capacity else "register booking by dosage",
                            "balanced", f"Q{quadrant}", f"{c}.8.{e}",
                            f"{item.hours:g} h at {current_label(item.current)}" if capacity
                            else f"tariff {tariff}")
    elif family == "register_capacity":
        yield Cell("register capacity", "balanced", "import", "1.8.0",
                   f"{item.hours:g} h at {current_label(item.current)}")
    elif family == "influence":
        change = f" {item.change:+g}" if item.change else ""
        yield Cell("error variation", "balanced", "import", "active pulse output",
                   f"{item.quantity}{change} PF {item.pf}")
    elif family == "demand":
        for register in ("1.5.0", "1.6.0"):
            yield Cell("maximum demand", "balanced", "import", register, item.mode)
        if item.tariff is not None:
            yield Cell("maximum demand", "balanced", "import", f"1.6.{item.tariff}",
                       f"tariff {item.tariff}")
    elif family == "tou":
        yield Cell("tariff switching", "none", "none", "C.14.0", item.check)
    elif family == "clock":
        yield Cell("clock drift", "none", "none", "0.9.1", f"{item.duration_h:g} h")
    elif family == "events":
        element = item.phase if item.event in PER_PHASE_EVENTS else "all"
        yield Cell("event", element, "none", item.event, "detected")
    elif family == "billing":
        condition = ("history overwritten" if item.months > HISTORY_DEPTH
                     else f"{item.months} periods")
        yield Cell("automatic reading", "balanced", "import", "history *101..*116", condition)
    elif family == "load_profile":
        # Every channel is read: the load's active and reactive channels carry energy, the
        # others none (rig/procedures/load_profile.py channel_shares).
        carrying = {LOAD_PROFILE_ACTIVE[item.direction]}
        if item.pf != "1":
            carrying.add(LOAD_PROFILE_QUADRANT[(item.direction, item.pf[-1])])
        for channel in LOAD_PROFILE_CHANNELS:
            yield Cell("load profile", "balanced", item.direction, channel,
                       "carrying energy" if channel in carrying else "carrying none")
    elif family == "interruption":
        if item.kind == "power_down":  # after a load at Imax
            yield Cell("retention", "balanced", "import", "energy registers",
                       f"power_down after PF {item.pf}")
        else:  # voltage only
            yield Cell("retention", "none", "none", "registers, test output", item.kind)
    else:
        raise ValueError(f"{item.id}: no coverage cells known for family {family!r}")




def filled(plan: Plan) -> dict[Cell, list[str]]:
    """Each cell the plan's items fill, with the ids of the items filling it."""
    out: dict[Cell, list[str]] = {}
    for item in plan.items:
        for cell in item_cells(item):
            ids = out.setdefault(cell, [])
            if item.id not in ids:
                ids.append(item.id)
    return out


def empty_cells(plan: Plan) -> list[Cell]:
    """Stated cells no item fills."""
    have = filled(plan)
    return [cell for cell in stated_cells(plan) if cell not in have]


def matrix_lines(plan: Plan) -> list[str]:
    """The stated matrix, one cell a line with the items filling it (EMPTY when none), then
    the cells items fill beyond the statement."""
    have = filled(plan)
    stated = stated_cells(plan)
    lines = [f"coverage of plan {plan.plan} (quantity | element | direction | "
             "register/output | condition: items)"]
    for cell in stated:
        ids = have.get(cell)
        lines.append(f"  {cell.text()}: {', '.join(ids) if ids else 'EMPTY'}")
    extra = sorted(set(have) - set(stated))
    if extra:
        lines.append("  beyond the plan's statement:")
        lines += [f"  {cell.text()}: {', '.join(have[cell])}" for cell in extra]
    empty = sum(1 for cell in stated if cell not in have)
    lines.append(f"{len(stated)} stated cells, {len(stated) - empty} filled, {empty} empty")
    return lines
