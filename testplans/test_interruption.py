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
import time
from decimal import Decimal

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import Quantity
from rig.loads import Rating, metered_power, point_for
from rig.measure import open_pulse_gates, pulses_seen, settle
from rig.meterlink import MeterLink, each
from rig.metrology import combine, rectangular
from rig.plan import InterruptionItem, critical_change_kwh
from rig.recorder import Recorder

pytestmark = pytest.mark.family("interruption")

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


def _dip_or_interruption(item, rig, bench, timebase, positions, recorder, numbers, links):
    rating = Rating.of(positions[0].config)
    critical = critical_change_kwh(rating.elements, rating.un, rating.imax)
    max_pulses = int(critical * rating.meter_constant + 1e-9)
    descs = {what: {"influence": {"quantity": item.kind, "value": item.depth},
                    "duration_s": item.duration_s, "repetitions": item.repetitions,
                    "check": what}
             for what in ("register change", "test output", "data retained")}
    done = [recorder.done(numbers, d) for d in descs.values()]
    if all(d is not None for d in done):
        return [m for d in done for m in d]
    # At Un with no current for longer than the meter's save interval: the registers read
    # before are the stored ones, so the change measured is the disturbance's own (energy an
    # earlier test left unsaved is the power-down item's business).
    settle(bench, timebase, LoadPoint.voltage_only(rating.un), SAVE_INTERVAL_S + SETTLING_S)
    started = time.time()
    for d in descs.values():
        recorder.started(numbers, d)
    before = each(links, lambda link: link.readout())
    gate = max_pulses + 1
    gates = open_pulse_gates(bench, numbers, rating.meter_constant, gate, Quantity.ACTIVE)
    _disturb(bench, timebase, rating, item)
    timebase.dwell(STARTUP_S, label="start-up")
    pulses = {n: pulses_seen(s.state, s.progress, gate) for n, s in gates.statuses().items()}
    gates.abort()
    after = each(links, lambda link: link.readout())
    rows = []
    with recorder.batch():  # every position's results in one commit
        for n in numbers:
            regs0, regs1 = _energy_registers(before[n]), _energy_registers(after[n])
            changes = {a: float(regs1[a] - v) for a, v in regs0.items() if a in regs1}
            worst = max(changes, key=lambda a: abs(changes[a])) if changes else None
            change = abs(changes[worst]) if worst else None
            rows.append(recorder.record(
                n, descs["register change"], "largest energy register change", change, "kWh",
                limit_low=None, limit_high=critical,
                raw={"changes_kwh": changes, "register_digit_kwh": REGISTER_DIGIT_KWH,
                     "critical_change_kwh": critical},
                started_at=started,
                message="" if change is not None and change <= critical else
                ("no energy register in the readout" if change is None else
                 f"{worst} changed by {changes[worst]:+.2f} kWh through the {item.kind}")))
            seen = pulses[n]
            rows.append(recorder.record(
                n, descs["test output"], "test-output energy during the disturbance",
                seen / rating.meter_constant, "kWh", limit_low=None, limit_high=critical,
                budget=combine([rectangular("pulse count", 1.0 / rating.meter_constant,
                                            note="+-1 pulse")]),
                raw={"pulses": seen, "max_pulses": max_pulses},
                started_at=started,
                message="" if seen <= max_pulses else
                f"{seen} or more pulses ({seen / rating.meter_constant:.4f} kWh) with no current "
                f"through the {item.kind}"))
            rows.append(_record_retained(recorder, n, descs["data retained"], before[n], after[n],
                                         f"the {item.kind}", started))
    return rows


def _record_retained(recorder, n, desc, before, after, after_what: str, started: float):
    """Every readout item read before is still readable after (no data loss)."""
    missing = _missing(before, after)
    return recorder.record(
        n, desc, "data items not readable after", float(len(missing)),
        "items", limit_low=None, limit_high=0.0,
        raw={"missing": missing, "items_before": len(before)}, started_at=started,
        message=f"not readable after {after_what}: {', '.join(missing[:10])}" if missing else "")


def _power_down(item, rig, bench, timebase, positions, recorder, numbers, links):
    rating = Rating.of(positions[0].config)
    descs = {what: {"load": rating.imax / rating.in_, "pf": item.pf, "load_s": LOAD_S,
                    "duration_s": item.duration_s, "check": what}
             for what in ("not lower", "advance", "data retained")}
    done = [recorder.done(numbers, d) for d in descs.values()]
    if all(d is not None for d in done):
        return [m for d in done for m in d]
    if bench.energy is None:
        pytest.fail(f"{item.id}: the bench has no reference energy register: the power-down "
                    "test compares the register advance with the delivered energy")
    load = point_for(rating, "active", "Imax", item.pf)
    power_w = metered_power(load, "active", rating.wiring)
    # At rest for longer than the meter's save interval: its last periodic save comes after
    # every earlier energy, so the load below is all unsaved until a power-down save.
    settle(bench, timebase, LoadPoint.voltage_only(rating.un), SAVE_INTERVAL_S + SETTLING_S)
    started = time.time()
    t0 = timebase.now()
    for d in descs.values():
        recorder.started(numbers, d)
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
    rows = []
    with recorder.batch():  # every position's results in one commit
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
            rows.append(recorder.record(
                n, descs["not lower"], "lowest energy register change through the power-down",
                drop, "kWh", limit_low=0.0, limit_high=None,
                raw={**raw, "changes_kwh": changes}, started_at=started,
                message="" if drop is not None and drop >= 0 else
                f"energy registers read {down_at - t0:.0f} s into the test (before a "
                f"{item.duration_s:g} s power-down after {LOAD_S:g} s at Imax PF {item.pf}) and "
                f"{up_at - t0 + STARTUP_S:.0f} s (after the power-up): "
                + ("; ".join(filter(None, [
                    ", ".join(f"{a} {at_down[n][a]} -> {regs_after[a]}" for a in sorted(lower)),
                    f"not readable after: {', '.join(unread)}" if unread else ""]))
                   or "no energy register in the readout")
                + (": energy registered since the last periodic save was lost" if lower else "")))
            excess = None if r1 is None else float(r1 - r0) - delivered
            rows.append(recorder.record(
                n, descs["advance"], "register advance minus delivered energy", excess, "kWh",
                limit_low=-allowance, limit_high=allowance,
                budget=combine([rectangular("register reading before", REGISTER_DIGIT_KWH / 2),
                                rectangular("register reading after", REGISTER_DIGIT_KWH / 2)]),
                raw=raw, started_at=started,
                message="" if excess is not None and abs(excess) <= allowance else
                "register not readable after power-up" if excess is None else
                f"register advanced {float(r1 - r0):.2f} kWh for {delivered:.4f} kWh delivered "
                f"({LOAD_S:g} s at Imax before a {item.duration_s:g} s power-down)"))
            rows.append(_record_retained(recorder, n, descs["data retained"], before[n], after[n],
                                         "power-up", started))
    return rows


def test_retention(plan_item, rig, bench, timebase, positions, recorder):
    item: InterruptionItem = plan_item
    numbers = [p.number for p in positions]
    links: dict[int, MeterLink] = {p.number: rig.link(p) for p in positions}
    method = _power_down if item.kind == "power_down" else _dip_or_interruption
    rows = method(item, rig, bench, timebase, positions, recorder, numbers, links)
    Recorder.assert_all_pass(rows)
