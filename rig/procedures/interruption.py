"""Data retained through voltage dips, short interruptions and a power-down.

Dips and interruptions (IEC 62052-11:2003 7.1.2, standards.md 5.1: durations [L], criteria [H]):
voltage circuits at Un and NO current; the disturbance is applied with the source (voltage
down by `depth` of Un for `duration_s`, `repetitions` times with `gap_s` at Un between). Pass
criteria: the registers do not change by more than the critical change value
m * Un * Imax * 1e-6 kWh (rig.plan.critical_change_kwh), the test output emits no more pulses
than that energy, and every data item read before is readable after.

Before the disturbance the meter rests at Un, no current, for longer than its periodic save
interval, so the registers read before are those it has stored.

The A1000 register digit (0.01 kWh) is coarser than the critical change value of a 3x230 V,
Imax 10 A meter (0.0069 kWh): the register check can only see a change of a digit or more. The
test output resolves it (1 pulse = 1/C kWh, 0.001 kWh at 1000 imp/kWh), so both are recorded.

Power-down (A1000 manual 3.2.5 data retention; standards.md 5.1 "no data loss"): after the
meter has rested at Un for longer than its periodic save interval, current flows at Imax for
LOAD_S (shorter than the save interval, so none of that energy is in the periodic save: only a
save at power-down keeps it), then every voltage goes off for `duration_s` and comes back.
The load runs at the item's power factor (below PF 1 the reactive registers move too). Checks:
no energy register of the readout (active and reactive, totals and tariffs) is lower after the
power-up than read just before the power-down, 1-1:1.8.0's advance over the test equals the
reference energy delivered within one digit (plus the class allowance on that energy), and the
readout is complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import Quantity
from rig.loads import Rating, metered_power, point_for
from rig.measure import open_pulse_gates, pulses_seen, settle
from rig.meterlink import MeterLink, each
from rig.metrology import combine, rectangular
from rig.plan import InterruptionItem, critical_change_kwh
from rig.procedures import Context, Declared, EachPoint
from rig.recorder import Take

#: Energy registers of the readout: active and reactive totals and rates (OBIS c.8.e).
ENERGY_REGISTER = re.compile(r"^1-1:[1-8]\.8\.\d+$")
REGISTER = "1-1:1.8.0"
#: The register's last digit, kWh (A1000 display format 99999.99, manual 2.1.2).
REGISTER_DIGIT_KWH = 0.01
#: Initial start-up: the meter is functional within 5 s after Un is applied (standards.md 1.4
#: [M]); the reads after a disturbance wait this long.
STARTUP_S = 5.0
SETTLING_S = 10.0
#: The A1000 saves its registers every 60 s of operation (A1000 model documentation,
#: persistence.save_interval_s); the rest before the power-down load is longer than that.
SAVE_INTERVAL_S = 60.0
#: Load before the power-down, shorter than the save interval together with the readouts
#: around it (the one at rest before the load and the one just before the power-down take
#: 6.3 s each on the simulated line at its real timing, rig.sim.line): at Imax on 3x220 V this
#: is 0.073 kWh, seven register digits that only a power-down save keeps.
LOAD_S = 40.0
#: A full readout (the readouts before and after each test) at real line timing: the 6.3 s of
#: LOAD_S's note, rounded up.
READOUT_S = 7.0
#: Class 0.5S limit at Imax, PF 1 (IEC 60687 Table 9, standards.md 1.2 [H]), allowed on the
#: energy delivered in the power-down test.
CLASS_LIMIT_PCT = 0.5


def _energy_registers(readout: dict) -> dict[str, Decimal]:
    return {a: r.value for a, r in readout.items()
            if ENERGY_REGISTER.match(a) and r.value is not None}


def _missing(before: dict, after: dict) -> list[str]:
    """Addresses read before that are absent or empty after."""
    return sorted(a for a, r in before.items()
                  if a not in after or not after[a].raw.strip())


def _disturb(bench, timebase, rating: Rating, item: InterruptionItem) -> None:
    low = LoadPoint.voltage_only(rating.un * (1.0 - item.depth))
    normal = LoadPoint.voltage_only(rating.un)
    for k in range(item.repetitions):
        bench.energise(low)
        timebase.dwell(item.duration_s, label=f"{item.kind} {k + 1}")
        bench.energise(normal)
        if k + 1 < item.repetitions:
            timebase.dwell(item.gap_s, label="restore")


def _descs(item: InterruptionItem, rating: Rating) -> dict[str, dict]:
    """The checks of the item, each a point of its own; measured in one experiment."""
    if item.kind == "power_down":
        return {what: {"load": rating.imax / rating.in_, "pf": item.pf, "load_s": LOAD_S,
                       "duration_s": item.duration_s, "check": what}
                for what in ("not lower", "advance", "data retained")}
    return {what: {"influence": {"quantity": item.kind, "value": item.depth},
                   "duration_s": item.duration_s, "repetitions": item.repetitions,
                   "check": what}
            for what in ("register change", "test output", "data retained")}


def _dip_or_interruption(procedure: Retention, ctx: Context, take: Take, links) -> None:
    item, rating, bench, timebase, numbers = (procedure.item, procedure.rating, ctx.bench,
                                              ctx.timebase, ctx.numbers)
    descs = {d["check"]: d for d in take.points}
    change_d, output_d, retained_d = procedure.declared
    critical = critical_change_kwh(rating.elements, rating.un, rating.imax)
    max_pulses = int(critical * rating.meter_constant + 1e-9)
    # At Un with no current for longer than the meter's save interval: the registers read
    # before are the stored ones, so the change measured is the disturbance's own (energy an
    # earlier test left unsaved is the power-down item's business).
    settle(bench, timebase, LoadPoint.voltage_only(rating.un), SAVE_INTERVAL_S + SETTLING_S)
    before = each(links, lambda link: link.readout())
    gate = max_pulses + 1
    gates = open_pulse_gates(bench, numbers, rating.meter_constant, gate, Quantity.ACTIVE)
    _disturb(bench, timebase, rating, item)
    timebase.dwell(STARTUP_S, label="start-up")
    pulses = {n: pulses_seen(s.state, s.progress, gate) for n, s in gates.statuses().items()}
    gates.abort()
    after = each(links, lambda link: link.readout())
    for n in numbers:
        regs0, regs1 = _energy_registers(before[n]), _energy_registers(after[n])
        changes = {a: float(regs1[a] - v) for a, v in regs0.items() if a in regs1}
        worst = max(changes, key=lambda a: abs(changes[a])) if changes else None
        change = abs(changes[worst]) if worst else None
        change_d.record(
            take, n, descs["register change"], change,
            raw={"changes_kwh": changes, "register_digit_kwh": REGISTER_DIGIT_KWH,
                 "critical_change_kwh": critical},
            message="" if change is not None and change <= critical else
            ("no energy register in the readout" if change is None else
             f"{worst} changed by {changes[worst]:+.2f} kWh through the {item.kind}"))
        seen = pulses[n]
        output_d.record(
            take, n, descs["test output"], seen / rating.meter_constant,
            budget=combine([rectangular("pulse count", 1.0 / rating.meter_constant,
                                        note="+-1 pulse")]),
            raw={"pulses": seen, "max_pulses": max_pulses},
            message="" if seen <= max_pulses else
            f"{seen} or more pulses ({seen / rating.meter_constant:.4f} kWh) with no current "
            f"through the {item.kind}")
        _record_retained(retained_d, take, n, descs["data retained"], before[n], after[n],
                         f"the {item.kind}")


def _record_retained(declared: Declared, take: Take, n, desc, before, after,
                     after_what: str) -> None:
    """Every readout item read before is still readable after (no data loss)."""
    missing = _missing(before, after)
    declared.record(
        take, n, desc, float(len(missing)),
        raw={"missing": missing, "items_before": len(before)},
        message=f"not readable after {after_what}: {', '.join(missing[:10])}" if missing else "")


def _power_down(procedure: Retention, ctx: Context, take: Take, links) -> None:
    item, rating, bench, timebase, numbers = (procedure.item, procedure.rating, ctx.bench,
                                              ctx.timebase, ctx.numbers)
    descs = {d["check"]: d for d in take.points}
    lower_d, advance_d, retained_d = procedure.declared
    if bench.energy is None:
        pytest.fail(f"{item.id}: the bench has no reference energy register: the power-down "
                    "test compares the register advance with the delivered energy")
    load = point_for(rating, "active", "Imax", item.pf)
    power_w = metered_power(load, "active", rating.wiring)
    # At rest for longer than the meter's save interval: its last periodic save comes after
    # every earlier energy, so the load below is all unsaved until a power-down save.
    settle(bench, timebase, LoadPoint.voltage_only(rating.un), SAVE_INTERVAL_S + SETTLING_S)
    t0 = timebase.now()
    before = each(links, lambda link: link.readout())
    bench.energy.start()
    bench.energise(load)
    timebase.dwell(LOAD_S, label="load before power-down")
    down_at = timebase.now()
    at_down = each(links, lambda link: _energy_registers(link.readout()))
    bench.energise(LoadPoint.balanced(0.0, 0.0))  # every voltage off: power down
    timebase.dwell(item.duration_s, label="power down")
    bench.energise(LoadPoint.voltage_only(rating.un))
    up_at = timebase.now()
    timebase.dwell(STARTUP_S, label="start-up")
    bench.energy.stop()
    delivered = bench.energy.energy()
    after = each(links, lambda link: link.readout())
    allowance = REGISTER_DIGIT_KWH + CLASS_LIMIT_PCT / 100.0 * delivered
    for n in numbers:
        r0 = before[n][REGISTER].value
        r1 = after[n][REGISTER].value if REGISTER in after[n] else None
        regs_after = _energy_registers(after[n])
        raw = {"register_start_kwh": str(r0),
               "register_at_power_down_kwh": str(at_down[n].get(REGISTER)),
               "register_after_kwh": str(r1), "delivered_kwh": delivered,
               "power_w": power_w}
        # Every energy register read before the power-down, after it (None: not readable).
        changes = {a: (float(regs_after[a] - v) if a in regs_after else None)
                   for a, v in at_down[n].items()}
        unread = sorted(a for a, c in changes.items() if c is None)
        lower = {a: c for a, c in changes.items() if c is not None and c < 0}
        drop = None if unread or not changes else min(changes.values())  # type: ignore[type-var]
        lower_d.record(
            take, n, descs["not lower"], drop,
            raw={**raw, "changes_kwh": changes},
            message="" if drop is not None and drop >= 0 else
            f"energy registers read {down_at - t0:.0f} s into the test (before a "
            f"{item.duration_s:g} s power-down after {LOAD_S:g} s at Imax PF {item.pf}) and "
            f"{up_at - t0 + STARTUP_S:.0f} s (after the power-up): "
            + ("; ".join(filter(None, [
                ", ".join(f"{a} {at_down[n][a]} -> {regs_after[a]}" for a in sorted(lower)),
                f"not readable after: {', '.join(unread)}" if unread else ""]))
               or "no energy register in the readout")
            + (": energy registered since the last periodic save was lost" if lower else ""))
        excess = None if r1 is None else float(r1 - r0) - delivered
        advance_d.record(
            take, n, descs["advance"], excess, limits=(-allowance, allowance),
            budget=combine([rectangular("register reading before", REGISTER_DIGIT_KWH / 2),
                            rectangular("register reading after", REGISTER_DIGIT_KWH / 2)]),
            raw=raw,
            message="" if excess is not None and abs(excess) <= allowance else
            "register not readable after power-up" if excess is None else
            f"register advanced {float(r1 - r0):.2f} kWh for {delivered:.4f} kWh delivered "
            f"({LOAD_S:g} s at Imax before a {item.duration_s:g} s power-down)")
        _record_retained(retained_d, take, n, descs["data retained"], before[n], after[n],
                         "power-up")


@dataclass(frozen=True)
class Retention(EachPoint):
    """A dip, a short interruption or a power-down, and the checks of the module's method; all
    checks of every position are one experiment."""

    item: InterruptionItem
    rating: Rating
    together = True

    @property
    def declared(self) -> tuple[Declared, ...]:
        item, rating = self.item, self.rating
        retained = Declared("data items not readable after", "items", item.clause,
                            limit_high=0.0)
        if item.kind == "power_down":
            return (
                Declared("lowest energy register change through the power-down", "kWh",
                         item.clause, limit_low=0.0),
                Declared("register advance minus delivered energy", "kWh", item.clause,
                         rule=f"+-(one {REGISTER_DIGIT_KWH} kWh digit + {CLASS_LIMIT_PCT} % of "
                         "the energy delivered)"),
                retained,
            )
        critical = critical_change_kwh(rating.elements, rating.un, rating.imax)
        return (
            Declared("largest energy register change", "kWh", item.clause, limit_high=critical),
            Declared("test-output energy during the disturbance", "kWh", item.clause,
                     limit_high=critical),
            retained,
        )

    def points(self) -> list[dict[str, Any]]:
        return list(_descs(self.item, self.rating).values())

    def planned_seconds(self) -> float:
        """Rest at Un beyond the save interval, a readout, the disturbance (the power-down
        test loads first and reads again), the start-up, a readout."""
        item = self.item
        disturbance = item.duration_s * item.repetitions + item.gap_s * (item.repetitions - 1)
        seconds = SAVE_INTERVAL_S + SETTLING_S + 2 * READOUT_S + disturbance + STARTUP_S
        if item.kind == "power_down":
            seconds += LOAD_S + READOUT_S
        return seconds

    def measure(self, ctx: Context, take: Take) -> None:
        links: dict[int, MeterLink] = {p.number: ctx.rig.link(p) for p in ctx.positions}
        method = _power_down if self.item.kind == "power_down" else _dip_or_interruption
        method(self, ctx, take, links)
