"""Mutants of the software A1000, derived from the model's structure (mutation testing of the plan).

The named defects (``defects.py``) are a hand list the plan was tuned to. A mutant is generated:
``mutants(meter)`` walks the model's structure through its public attributes (elements of the
wiring, energy registers x tariffs, pulse outputs, tariffs, quadrants, event logs, load-profile
channels, calendar rules, history depths) and yields one small, plausible fault per part and
operator. A type test must fail each of them, or the README explains why it is not a type-test
matter (testplans/mutation_explained.yaml).

A mutant is injected as the defect ``mutant`` with its id:
``--defect 3=mutant:id=element.L2.gain`` gives position 3 that mutant. ``apply_mutants(meter)``
(called by the A1000 once its components exist, before the tariff is scheduled and the state
loaded) wraps the one attribute of the model the operator targets; healthy paths are untouched.

Magnitudes, each just beyond what the class 0.5S type test allows, so a plan that looks at the
part catches it:

* element gain 1 %: the single-element limit is 0.6 % (IEC 60687 Table 10 = 62053-22 Table 5,
  standards.md 1.1); phase 0.6 degrees: at PF 0.5L the active error is -tan(60 deg) x 0.01047 rad
  = -1.8 % against the 1.0 % single-element limit at PF 0.5L;
* pulse-output constant x 1.01: the meter-constant test allows a tenth of the class limit;
* rollover at a twentieth of the register's range: 5 000 kWh in format 99999.99 (A1000 manual
  1.1 item 5), less than the 1500 h at Imax IEC 62052-11 requires without rollover (3 x 220 V x
  10 A x 1500 h = 9 900 kWh on the simulated 5(10) A meter).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gmpy2 import mpq
from pydantic import Field

from meter.a1000.defects import DefectSpec, _Params, register_defect
from meter.a1000.registers import QUANTITIES, PulseOutput
from meter.a1000.tou import Season, TouTables
from meter.electrical import ElectricalInputs, PhaseInput, Phasor, Wiring

if TYPE_CHECKING:
    from meter.a1000.meter import A1000

GAIN = 1.01
PHASE_DEG = 0.6
CONSTANT_FACTOR = mpq(101, 100)  # exact, as the model's constants
ROLLOVER_FRACTION = 20  # the register rolls over at modulus / this

PHASE_NAMES = ("L1", "L2", "L3")
#: The register a mis-booked register shows: import <-> export and so on (same tariff).
PARTNER = {"import": "export", "export": "import", "q1": "q2", "q2": "q1", "q3": "q4",
           "q4": "q3", "s_import": "s_export", "s_export": "s_import"}
#: Load-profile channels by the flow field they record (load_profile.CHANNELS order).
CHANNEL_NAMES = ("import", "export", "q1", "q2", "q3", "q4")
#: Calendar rules of A1000 manual 1.4 and what the mutant does instead.
CALENDAR_RULES = {
    "holidays": "holidays are ignored (the day follows the weekend or season rule)",
    "holiday-priority": "the weekend rule wins over a holiday falling on a weekend day "
                        "(manual 1.4 item 2: holiday over weekend over season)",
    "weekend": "weekend days are ignored (they follow the season)",
    "season-start": "every season starts one day late",
    "year-end": "before the first season's start the first season applies, not the last one "
                "wrapping over the year end",
    "wrap-around": "before a daily profile's first section its first tariff applies, not the "
                   "last section's wrapping over midnight (manual 1.4 item 8)",
}

_ID = re.compile(r"^[a-z][a-z0-9_-]*(\.[A-Za-z0-9_-]+){1,2}$")


class MutantParams(_Params):
    """Parameters of the defect ``mutant``: the generated mutant's id (``mutants()``)."""

    id: str = Field("element.L1.gain", pattern=_ID.pattern)


register_defect(DefectSpec(
    "mutant",
    MutantParams,
    "the generated mutant `id` (meter.a1000.mutations; the README's mutation table lists them)",
    "the plan item the mutation table names, or the reason it is not a type-test matter",
))


@dataclass(frozen=True)
class Mutant:
    """One generated fault: its id (the defect parameter), the part and what goes wrong."""

    id: str
    family: str
    effect: str

    @property
    def defect(self) -> str:
        """The ``--defect`` value (without positions)."""
        return f"mutant:id={self.id}"


class MutantError(ValueError):
    pass


# ---------------------------------------------------------------------- enumeration


def _elements(meter: A1000) -> tuple[int, ...]:
    """Phase indices with a measuring element: all three on 3P4W; L1 and L3 on 3P3W (Aron
    connection, meter.electrical: U12 with I1, U32 with I3)."""
    if meter.config.wiring is Wiring.THREE_PHASE_FOUR_WIRE:
        return (0, 1, 2)
    return (0, 2)


def _tariffs(meter: A1000) -> range:
    return range(1, len(meter.energy.closed[0]))  # row 0 is the total


def mutants(meter: A1000) -> list[Mutant]:
    """Every mutant of this meter, from its structure."""
    out: list[Mutant] = []
    for k in _elements(meter):
        ph = PHASE_NAMES[k]
        out.append(Mutant(f"element.{ph}.gain", "element gain",
                          f"element {ph} measures {100 * (GAIN - 1):g} % high"))
        out.append(Mutant(f"element.{ph}.phase", "element phase",
                          f"element {ph}'s current lags {PHASE_DEG:g} deg more"))
    tariffs = _tariffs(meter)
    for q in QUANTITIES:
        for t in (0, *tariffs):
            out.append(Mutant(f"register.{q}-t{t}.booking", "register booking",
                              f"register {q} tariff {t or 'total'} shows {PARTNER[q]}'s"))
            out.append(Mutant(f"register.{q}-t{t}.rollover", "register rollover",
                              f"register {q} tariff {t or 'total'} rolls over at 1/"
                              f"{ROLLOVER_FRACTION} of its range"))
    for o in PulseOutput:
        out.append(Mutant(f"output.{o.value}.constant", "pulse output constant",
                          f"{o.value} pulses at {float(CONSTANT_FACTOR):g} x its constant"))
    for t in tariffs:
        nxt = t % len(tariffs) + 1
        out.append(Mutant(f"tariff.t{t}.booking", "tariff booking",
                          f"energy of tariff {t} is booked in tariff {nxt}'s registers"))
    for q in sorted(meter.defects.quadrant_map):
        nxt = q % 4 + 1
        out.append(Mutant(f"quadrant.q{q}.booking", "quadrant booking",
                          f"reactive energy of quadrant {q} is booked in Q{nxt}'s register"))
    logs = meter.component("events").monitor.logs  # type: ignore[attr-defined]
    for key in logs:
        out.append(Mutant(f"event.{key}.counter", "event counter",
                          f"event {key} is logged without counting it"))
        if key[-2:] in ("_A", "_B", "_C"):
            out.append(Mutant(f"event.{key}.phase", "event phase",
                              f"event {key} is logged on {_next_phase_key(key)}"))
    for c in CHANNEL_NAMES:
        out.append(Mutant(f"channel.{c}.lost", "load-profile channel",
                          f"load-profile channel {c} records nothing"))
    for rule, effect in CALENDAR_RULES.items():
        out.append(Mutant(f"calendar.{rule}", "calendar rule", effect))
    billing = meter.component("billing").registers.history  # type: ignore[attr-defined]
    out.append(Mutant("history.billing.depth", "history depth",
                      f"the billing history keeps {billing.maxlen - 1}, not {billing.maxlen}"))
    keep = next(iter(logs.values())).occurrences.maxlen
    out.append(Mutant("history.events.depth", "history depth",
                      f"each event log keeps the last {keep - 1} occurrences, not {keep}"))
    return out


def _next_phase_key(key: str) -> str:
    return key[:-1] + "ABC"[("ABC".index(key[-1]) + 1) % 3]


# ---------------------------------------------------------------------- application


def apply_mutants(meter: A1000) -> None:
    """Inject the meter's ``mutant`` defects (none: nothing changes)."""
    for name, params in meter.defects.active:
        if name == "mutant":
            apply_mutant(meter, params.id)  # type: ignore[attr-defined]


def apply_mutant(meter: A1000, mutant_id: str) -> None:
    known = {m.id: m for m in mutants(meter)}
    if mutant_id not in known:
        raise MutantError(
            f"mutant {mutant_id!r} is not a mutant of this meter "
            f"(python -m meter mutants lists its {len(known)} mutants)"
        )
    family, rest = mutant_id.split(".", 1)
    _APPLY[family](meter, rest)


def _element(meter: A1000, rest: str) -> None:
    ph, op = rest.split(".")
    k = PHASE_NAMES.index(ph)
    set_inputs = meter.set_inputs

    def faulty(t: float, inputs: ElectricalInputs) -> None:
        p = inputs.phases[k]
        cur = p.current
        if op == "gain":
            cur = Phasor(cur.rms * GAIN, cur.angle_deg)
        else:
            cur = Phasor(cur.rms, cur.angle_deg - PHASE_DEG)
        phases = list(inputs.phases)
        phases[k] = PhaseInput(p.voltage, cur, p.harmonics)
        set_inputs(t, ElectricalInputs((phases[0], phases[1], phases[2]), inputs.frequency))

    meter.set_inputs = faulty  # type: ignore[method-assign]


def _register(meter: A1000, rest: str) -> None:
    target, op = rest.split(".")
    quantity, t = target.rsplit("-t", 1)
    tariff = int(t)
    energy = meter.energy
    value = energy.value
    modulus = meter.config.register_modulus // ROLLOVER_FRACTION

    def faulty(q: str, tr: int, at: float) -> Any:
        if q != quantity or tr != tariff:
            return value(q, tr, at)
        if op == "booking":
            return value(PARTNER[q], tr, at)
        return value(q, tr, at) % modulus

    energy.value = faulty  # type: ignore[method-assign]


def _output(meter: A1000, rest: str) -> None:
    name, _ = rest.split(".")
    output = PulseOutput(name)
    constant = meter.constant

    def faulty(o: PulseOutput) -> Any:
        c = constant(o)
        return c * CONSTANT_FACTOR if o is output else c

    meter.constant = faulty  # type: ignore[method-assign]


def _tariff(meter: A1000, rest: str) -> None:
    tariff = int(rest.split(".")[0][1:])
    booked = tariff % len(_tariffs(meter)) + 1
    energy = meter.energy
    set_tariff = energy.set_tariff

    def faulty(t: float, tr: int) -> None:
        set_tariff(t, booked if tr == tariff else tr)

    energy.set_tariff = faulty  # type: ignore[method-assign]
    if energy.tariff == tariff:  # already in force at start-up
        energy.tariff = booked


def _quadrant(meter: A1000, rest: str) -> None:
    q = int(rest.split(".")[0][1:])
    qmap = dict(meter.defects.quadrant_map)
    qmap[q] = qmap[q] % 4 + 1
    meter.defects = dataclasses.replace(meter.defects, quadrant_map=qmap)


def _event(meter: A1000, rest: str) -> None:
    key, op = rest.rsplit(".", 1)
    logs = meter.component("events").monitor.logs  # type: ignore[attr-defined]
    log = logs[key]
    if op == "counter":
        start = log.start

        def uncounted(t: float, meter_s: float) -> None:
            count = log.count
            start(t, meter_s)
            log.count = count

        log.start = uncounted
        return
    other = logs[_next_phase_key(key)]
    log.start, log.stop = other.start, other.stop


def _channel(meter: A1000, rest: str) -> None:
    k = CHANNEL_NAMES.index(rest.split(".")[0])
    lp = meter.component("load_profile")
    channels = lp.channels  # type: ignore[attr-defined]

    # The channels a flow books: the one function the event loop and the fast-forward share.
    def faulty(flow: Any) -> tuple[float, ...]:
        values = list(channels(flow))
        values[k] = 0.0
        return tuple(values)

    lp.channels = faulty  # type: ignore[attr-defined]


class MutatedCalendar:
    """The TOU tables as programmed (read back, saved) with a faulty calendar acting: the
    tariff in force and the next switch come from `acting`, everything else from `shown`."""

    def __init__(self, shown: TouTables, rule: str) -> None:
        self.shown = shown
        self.rule = rule
        self.acting = _mutated_tables(shown, rule)

    def tariff_at(self, meter_s: float) -> int:
        return self.acting.tariff_at(meter_s)

    def next_change(self, meter_s: float, horizon_days: int = 800) -> tuple[int, int] | None:
        return self.acting.next_change(meter_s, horizon_days)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shown, name)


def _mutated_tables(tables: TouTables, rule: str) -> TouTables:
    replace = dataclasses.replace
    if rule == "holidays":
        return replace(tables, holidays={})
    if rule == "holiday-priority":
        return replace(tables, holidays={d: s for d, s in tables.holidays.items()
                                         if d.isoweekday() not in tables.weekend_days})
    if rule == "weekend":
        return replace(tables, weekend_days=frozenset(), weekend=None)
    if rule == "season-start":
        late = []
        for s in tables.seasons:
            day = dt.date(2001, s.month, s.day) + dt.timedelta(days=1)  # 2001: not a leap year
            late.append(Season(day.month, day.day, s.selection))
        late.sort(key=lambda s: (s.month, s.day))
        return replace(tables, seasons=tuple(late))
    if rule == "year-end":
        first = tables.seasons[0]
        if (first.month, first.day) == (1, 1):
            return tables
        return replace(tables, seasons=(Season(1, 1, first.selection), *tables.seasons))
    # wrap-around: the first section starts at 00:00 (its tariff before its real start)
    profiles = {n: (dataclasses.replace(secs[0], start_minute=0), *secs[1:])
                for n, secs in tables.profiles.items()}
    return replace(tables, profiles=profiles)


def _calendar(meter: A1000, rest: str) -> None:
    set_tou = meter.set_tou
    meter.tou = MutatedCalendar(meter.tou, rest)  # type: ignore[assignment]

    def faulty(t: float, tables: TouTables) -> None:
        set_tou(t, MutatedCalendar(tables, rest))  # type: ignore[arg-type]

    meter.set_tou = faulty  # type: ignore[method-assign]


def _history(meter: A1000, rest: str) -> None:
    """One entry less in a history; kept through a restore (power-up from the state file)."""
    comp = meter.component(rest.split(".")[0])
    restore = comp.restore

    def shrink() -> None:
        if comp.name == "billing":
            regs = comp.registers  # type: ignore[attr-defined]
            regs.history = deque(regs.history, maxlen=regs.history.maxlen - 1)
            return
        for log in comp.monitor.logs.values():  # type: ignore[attr-defined]
            log.occurrences = deque(log.occurrences, maxlen=log.occurrences.maxlen - 1)

    def faulty(d: dict[str, Any]) -> None:
        restore(d)
        shrink()

    shrink()
    comp.restore = faulty  # type: ignore[method-assign]


_APPLY: dict[str, Callable[[A1000, str], None]] = {
    "element": _element,
    "register": _register,
    "output": _output,
    "tariff": _tariff,
    "quadrant": _quadrant,
    "event": _event,
    "channel": _channel,
    "calendar": _calendar,
    "history": _history,
}
