"""Procedures declare their measurements and record through the declarations."""

from __future__ import annotations

import pytest

from reports.records import Verdict
from rig.loads import Rating
from rig.plan import load_plan
from rig.procedures import Declarations, Declared, describe
from rig.procedures.errors import ErrorAtPoint, SingleAgainstBalanced
from rig.procedures.pulses import NoLoad, Starting
from rig.tariffs import ForcedCalendar, TariffCarry
from tests.rig import test_recorder

recorder = test_recorder.recorder  # the fixture: a recorder on a fresh store


def test_a_record_through_a_declaration_carries_its_quantity_unit_and_limits(recorder):
    creep = Declared("active pulses without current", "pulses", "IEC 60687 8.3.2",
                     limit_low=None, limit_high=1.0)
    take = recorder.start([1, 2], {"voltage_factor": 1.15})
    creep.record(take, 1, {"voltage_factor": 1.15}, 0.0)
    creep.record(take, 2, {"voltage_factor": 1.15}, 2.0, message="2 pulses: the meter creeps")
    take.commit()
    rows = {m.position: m for m in recorder.store.measurements(recorder.run_id)}
    assert {(m.quantity, m.unit, m.limit_low, m.limit_high) for m in rows.values()} == {
        ("active pulses without current", "pulses", None, 1.0)}
    assert (rows[1].verdict, rows[2].verdict) == (Verdict.PASS, Verdict.FAIL)


def test_a_declaration_needs_limits_in_order_or_a_rule_for_them():
    with pytest.raises(ValueError, match="fixed limits or a rule"):
        Declared("x", "%", "c", limit_low=None, limit_high=None)
    with pytest.raises(ValueError, match="fixed limits or a rule"):
        Declared("x", "%", "c", limit_high=1.0, rule="one digit")
    with pytest.raises(ValueError, match="above"):
        Declared("x", "%", "c", limit_low=1.0, limit_high=-1.0)


def test_limits_by_rule_come_with_each_record_and_fixed_ones_cannot_be_changed(recorder):
    dosage = Declared("1-1:1.8.0 error by dosage", "%", "c",
                      rule="+-(limit + one 0.01 kWh digit in the reference energy)")
    fixed = Declared("pulses", "pulses", "c", limit_high=1.0)
    take = recorder.start([1], {"p": 1})
    with pytest.raises(ValueError, match="must give them"):
        dosage.record(take, 1, {"p": 1}, 0.1)
    with pytest.raises(ValueError, match="cannot change them"):
        fixed.record(take, 1, {"p": 1}, 0.0, limits=(None, 5.0))
    dosage.record(take, 1, {"p": 1}, 0.1, limits=(-0.2, 0.2))
    take.commit()
    (m,) = recorder.store.measurements(recorder.run_id)
    assert (m.limit_low, m.limit_high, m.verdict) == (-0.2, 0.2, Verdict.PASS)


# The simulated bench's meters (benches/sim.yaml) at the bench's 230 V.
RATING = Rating(un=230.0, in_=5.0, imax=10.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")


def _item(family: str, **where):
    plan = load_plan("iec60687-class0.5S")
    return next(i for i in plan.items if i.family == family
                and all(getattr(i, k) == v for k, v in where.items()))


def test_the_default_plan_procedures_declare_their_clause_unit_and_limit():
    rating = RATING
    acc = _item("accuracy", element="balanced", energy="active")
    point = acc.points[0]
    lines = describe(ErrorAtPoint(acc, point, "import", rating))
    # The plan item's limit for the point, symmetric, in %, with the item's clause.
    assert lines == [f"active energy error [%] +-{point.limit:g} % ({acc.clause})"]
    no_load = _item("no_load", energy="active")
    assert describe(NoLoad(no_load, rating)) == [
        f"active pulses without current [pulses] <= {no_load.max_pulses:g} pulses "
        f"({no_load.clause})"]
    starting = _item("starting", energy="active")
    assert describe(Starting(starting, rating, "export")) == [
        f"pulses at starting current [pulses] >= {starting.pulses:g} pulses ({starting.clause})"]
    svb = _item("single_vs_balanced")
    procedure = SingleAgainstBalanced(svb, rating)
    # One point per element, each a resume key of its own.
    assert [p["element"] for p in procedure.points()] == list(svb.elements)


def test_no_load_window_is_the_formula_time():
    """standards.md 1.4: Delta-t >= 600e6 / (k m Un Imax) min; k = 1000 imp/kWh, m = 3,
    Un = 230 V, Imax = 10 A: 600e6 / (1000 * 3 * 230 * 10) = 86.957 min = 5217.4 s."""
    no_load = _item("no_load", energy="active")
    procedure = NoLoad(no_load, RATING)
    assert procedure.minutes() == pytest.approx(86.957, abs=1e-3)
    assert procedure.window_s() == pytest.approx(5217.39 * no_load.time_factor, abs=0.01)


def test_the_recorder_refuses_what_the_running_procedure_did_not_declare(recorder):
    """As an OpenHTF phase refuses a measurement it did not declare: a record whose quantity,
    unit or fixed limits differ from the declarations is refused by name, and nothing of the
    take is stored."""
    declared = (Declared("active pulses without current", "pulses", "c", limit_high=1.0),
                Declared("ERR 1 voltage loss bit", "bit", "c", limit_low=1.0, limit_high=1.0),
                Declared("ERR 1 voltage loss bit", "bit", "c", limit_low=0.0, limit_high=0.0))
    recorder.expected = Declarations(declared)

    def one(quantity, unit, low, high):
        take = recorder.start([1], {"q": quantity, "low": low})
        take.record(1, {"q": quantity, "low": low}, quantity, 0.0, unit, limit_low=low,
                    limit_high=high)
        take.commit()

    with pytest.raises(ValueError, match="'reactive pulses' is not a declared measurement"):
        one("reactive pulses", "pulses", None, 1.0)
    with pytest.raises(ValueError, match="recorded in 'kWh'"):
        one("active pulses without current", "kWh", None, 1.0)
    with pytest.raises(ValueError, match=r"limits None\.\.2\.0: declared as 'pulses' <= 1 pulses"):
        one("active pulses without current", "pulses", None, 2.0)
    assert recorder.store.measurements(recorder.run_id) == []
    one("ERR 1 voltage loss bit", "bit", 1.0, 1.0)  # during the event
    one("ERR 1 voltage loss bit", "bit", 0.0, 0.0)  # after it: the second declaration
    assert len(recorder.store.measurements(recorder.run_id)) == 2


class _Bench:
    """A bench whose source is energised: the rig's keep-alive asks it (Bench.keepalive)."""

    def __init__(self, on: bool) -> None:
        self.asked = 0
        self.on = on

    def keepalive(self) -> bool:
        from rig.safety import SafetyError

        self.asked += 1
        if not self.on:
            raise SafetyError("source: output switched off unexpectedly (faults: none reported)")
        return True


class _Nothing:
    """A procedure with nothing left to do: every point of it stored (a resumed run)."""

    declared = ()
    ran = False

    def run(self, ctx, recorder) -> None:
        self.ran = True


def test_a_procedure_with_nothing_left_to_do_still_keeps_the_source_alive(recorder):
    """tests/rig/test_stopping.py found it: a resumed run skips its stored tests without a word
    to the source, and the simulated source's 5 s wall-time watchdog switched off under the
    next test that measured."""
    from types import SimpleNamespace

    from rig.procedures import run

    bench = _Bench(on=True)
    rig = SimpleNamespace(bench=bench, timebase=None, positions=[], tariff_carry=TariffCarry())
    for _ in range(3):
        run(_Nothing(), recorder, rig)
    assert bench.asked == 3


def test_a_source_switched_off_under_the_plan_stops_the_next_procedure_before_it_runs(recorder):
    from types import SimpleNamespace

    from rig.procedures import run
    from rig.safety import SafetyError

    procedure = _Nothing()
    rig = SimpleNamespace(bench=_Bench(on=False), timebase=None, positions=[],
                          tariff_carry=TariffCarry())
    with pytest.raises(SafetyError, match="switched off unexpectedly"):
        run(procedure, recorder, rig)
    assert not procedure.ran


class _Link:
    """A meter's link that keeps what was written to it (rig.meterlink.MeterLink.write)."""

    number = 1
    port = "optical head 1"

    def __init__(self) -> None:
        self.written: list[tuple[str, list[str]]] = []

    def write(self, writes) -> None:
        self.written += [(a, list(v)) for a, v in writes]


class _Forcing(_Nothing):
    """A tariff test: it puts its own tariff in force (rig.procedures.forces_tariff)."""

    forces_tariff = True


@pytest.mark.parametrize("procedure, written_back", [(_Nothing, True), (_Forcing, False)])
def test_a_tariff_left_in_force_goes_back_before_any_procedure_but_a_tariff_test(
        recorder, procedure, written_back):
    """rig.tariffs: a series of tariff tests leaves the last one's tariff in force; the next
    procedure that puts no tariff of its own in force finds each meter's own calendar."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from rig.procedures import run

    link = _Link()
    own = {"C.90.5": ["01-01=P1"], "C.90.6": ["6", "P2"], "C.90.7": ["12-25"]}
    carry = TariffCarry(forced=ForcedCalendar((), {1: link}, 2, {1: own}, entries=0))
    seen = []

    class Seeing(procedure):
        def run(self, ctx, recorder) -> None:
            seen.append(carry.forced)

    rig = SimpleNamespace(bench=_Bench(on=True), timebase=None, positions=[],
                          tariff_carry=carry, programming_entries=0,
                          programming=lambda *positions: nullcontext())
    run(Seeing(), recorder, rig)
    if written_back:
        assert seen == [None] and link.written == list(own.items())
        assert carry.calendars is not None and carry.calendars.calendars == {1: own}
    else:
        assert seen[0].tariff == 2 and link.written == []
