"""The plan's schedule: background items run during the families that can host them.

A background item needs of the bench only an energised meter under one load condition and
elapsed time: clock drift at no load and at rated current (rig.procedures.clock). It is two
plan tests: its start (load, settle, first clock reading) before its hosts and its end (its last
reading, its verdicts) after them; the readings in between are taken between host tests when
they fall due (rig.procedures.clock.BackgroundClock). A host is a plan test whose loads meet the
background item's condition (`host_condition`: what the test's procedure applies for its item
and point, the static claim), and the session's load log (`LoadLog`) proves it at run time: the
item's end fails naming the test and load that broke its condition (`conflicts`).

Conditions (the meter's own dissipation is what differs between them: the clock's crystal drifts
about 0.15 s/day per degree, IEC 62054-21 via standards.md 4.2, so what matters is the heat
the meter makes):
- `NO_CURRENT`: every phase voltage within the extended operating range 0.8-1.15 Un (IEC
  62052-11, standards.md 5.1) and no current above 0.01 In. The current circuits' dissipation
  goes with I^2: at 0.01 In it is 1e-4 of that at In, nothing beside the voltage circuits'.
  Hosts: the no-load (creep) test at 1.15 Un, the starting test at 0.001-0.003 In, the accuracy
  points at 0.01 In.
- `AT_LEAST_IN` ("at rated current", A1000 manual 3.2.3 / issue 13): every load has the voltage
  on every phase (0.8-1.15 Un), and over the window the time average of I^2 on every phase is at
  least In^2. The meter's temperature rise is linear in its dissipation (first-order thermal
  path), so a window whose mean I^2 is at least In^2 holds the meter, on average, at least as
  warm as In held throughout; the crystal's frequency error is a parabola in temperature above
  its turnover (about -0.034 ppm/K^2 for a 32 kHz tuning fork: the clock drifts more the warmer
  it is, and by Jensen's inequality a varying temperature drifts it at least as much as its
  mean), so the window is at least as severe as the single-load test. No load's own current
  matters beyond the mean: a read at Un alone (no current) heats less than any current below
  In would, and was always admitted. Hosts: the doses (meter constant, register dosage,
  quadrant registers, register map) at Imax with register reads at Un between; the block-demand
  items at In (a base of 0.5 In around their one cycle at In); the load-profile items at In
  without a power-down; the accuracy points at In and above (balanced or one element) and the
  single-vs-balanced items at In; the events whose fault keeps the voltages at Un (their normal
  load is In).
Power-down (interruption, events' voltage loss, the load-profile item with its outage) and a
programmed clock (TOU switching, billing set the meter clock) host nothing. Meter access that
only reads, or writes demand settings, tariff calendars and resets the maxima (as the register
doses and demand do, in the programming state) leaves the clock alone (A1000 manual 3.2.3: the
clock 0.9.1/0.9.2 is set only by its own writes); the clock items' own readings across their
hosts show it on the simulated bench (tests/rig/test_schedule.py).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating
from rig.progress import hms

#: The extended operating range of the voltage (IEC 62052-11, standards.md 5.1).
VOLTAGE_RANGE = (0.8, 1.15)
#: Most current a no-load window admits, as a multiple of In (see the module's docstring).
NO_CURRENT_MAX_IN = 0.01


class Condition(enum.Enum):
    NO_CURRENT = "no current, voltage on"
    AT_LEAST_IN = "mean I^2 >= In^2 on every phase, voltage on"


#: The condition every load of a family's procedures meets, whatever the item (checked at run
#: time by LoadLog): no_load applies 1.15 Un alone (rig.procedures.pulses); starting 0.001 In /
#: 0.003 In (plan items start.*); meter_constant, register_dosage, register (quadrants) and
#: register_map dose at the item's current (Imax in the default plan) and read the registers at
#: Un alone (rig.procedures.meter_constant, registers, register_map). Families whose items
#: differ: `host_condition`. Not hosts: interruption and events (power down, voltage loss), tou
#: and billing (they set the meter clock).
HOST_LOADS: dict[str, Condition] = {
    "no_load": Condition.NO_CURRENT,
    "starting": Condition.NO_CURRENT,
    "meter_constant": Condition.AT_LEAST_IN,
    "register_dosage": Condition.AT_LEAST_IN,
    "register": Condition.AT_LEAST_IN,
    "register_map": Condition.AT_LEAST_IN,
}


#: Event faults with every phase voltage at Un (rig.procedures.events.injection: a current
#: above 1.2 Imax, export, one phase's current off or turned, the sequence reversed); the
#: others lose, raise or lower a voltage, or power the meter down.
EVENTS_AT_UN = frozenset({"over_current", "reverse_run", "missing_current", "current_reversal",
                          "phase_sequence_reversal"})


def host_condition(item: Any, point: Any = None) -> Condition | None:
    """The condition a plan test's own loads meet, from its item (and its point, for the
    accuracy family), or None: it hosts nothing.
    - demand: the item's load at In or above (the block items; the rolling item at 0.5 In
      does not host): its load and its base (half of it) at Un (rig.procedures.demand).
    - load_profile: at In or above and without the power-down part (`power_down: false`): Un
      alone, then the item's load (rig.procedures.load_profile).
    - events: the faults that keep every phase's voltage at Un (`EVENTS_AT_UN`) around the
      normal load Un, In, PF 1 (rig.procedures.events.injection).
    - accuracy: the point's load alone (rig.procedures.errors): a point at In or above (Imax
      too), balanced or on one element (the other phases at Un without current), meets
      AT_LEAST_IN; any point at most 0.01 In NO_CURRENT.
    - single_vs_balanced: its item's current balanced, then on each element alone: at In or
      above, AT_LEAST_IN."""
    family = getattr(item, "family", None)
    if family in HOST_LOADS:
        return HOST_LOADS[family]
    if family == "demand":
        return Condition.AT_LEAST_IN if item.current >= 1.0 else None
    if family == "load_profile":
        if item.current >= 1.0 and not item.power_down:
            return Condition.AT_LEAST_IN
        return None
    if family == "single_vs_balanced":
        return Condition.AT_LEAST_IN if item.current == "Imax" or (
            isinstance(item.current, float | int) and item.current >= 1.0) else None
    if family == "events":
        return Condition.AT_LEAST_IN if item.event in EVENTS_AT_UN else None
    if family == "accuracy" and point is not None:
        current = point.current
        if current == "Imax" or (isinstance(current, float | int) and current >= 1.0):
            return Condition.AT_LEAST_IN
        if isinstance(current, float | int) and current <= NO_CURRENT_MAX_IN:
            return Condition.NO_CURRENT
    return None


def background_condition(item: Any) -> Condition | None:
    """A clock item's condition: none for a current between 0 and In (no host fits it)."""
    if getattr(item, "family", None) != "clock":
        return None
    if item.current == 0:
        return Condition.NO_CURRENT
    if item.current >= 1.0:
        return Condition.AT_LEAST_IN
    return None


@dataclass(frozen=True)
class ScheduledTest:
    """A collected plan test as the scheduler sees it. `role`: "start" or "end" of a background
    item, else "" (a foreground test)."""

    nodeid: str
    family: str
    item_id: str
    seconds: float
    role: str = ""
    condition: Condition | None = None
    minimum: float = 0.0  # its physical minimum (rig.benchtime.minimum_seconds)
    # A foreground test: the condition its own loads meet (host_condition), None: no host.
    hosts: Condition | None = None
    # Its procedure's `aligned_to_s`: it starts at the next boundary of the meter's intervals
    # of this length, its planned time counting a whole one (a test of its family before it).
    aligned_s: float = 0.0


@dataclass
class Window:
    """A background item's window: its start, the hosts in order, its end."""

    item_id: str
    condition: Condition
    duration_s: float
    start: str = ""
    end: str = ""
    hosts: list[ScheduledTest] = field(default_factory=list)

    @property
    def hosted_s(self) -> float:
        return sum(t.seconds for t in self.hosts)

    @property
    def overlap_s(self) -> float:
        """Planned seconds of the item's duration that its hosts' time covers."""
        return min(self.duration_s, self.hosted_s)

    @property
    def minimum_overlap_s(self) -> float:
        """The same for the physical minimum: the hosts' minimum time."""
        return min(self.duration_s, sum(t.minimum for t in self.hosts))


@dataclass
class Schedule:
    order: list[str]
    windows: list[Window]
    # Test id -> seconds its planned wait to a boundary shortens by in this order (`schedule`).
    unaligned: dict[str, float] = field(default_factory=dict)

    def overlap_of(self, nodeid: str) -> float:
        """Seconds the end test `nodeid` does not take itself (its hosts' time covers them)."""
        return sum(w.overlap_s for w in self.windows if w.end == nodeid)

    def lines(self) -> list[str]:
        """The background windows as the plugin prints them before a run."""
        if not self.windows:
            return []
        out = ["meter-test-rig: background items (their time runs during their hosts):"]
        for w in self.windows:
            out.append(f"  {w.item_id} ({w.condition.value}; {hms(w.duration_s)}), "
                       f"{hms(w.overlap_s)} of it during {len(w.hosts)} host test(s):")
            items = dict.fromkeys(f"{t.family}: {t.item_id}" for t in w.hosts)
            out += [f"    {name}" for name in items] or ["    (none: the end dwells)"]
        return out


def scheduled_test(nodeid: str, item: Any, seconds: float, procedure_cls: type | None,
                   minimum: float = 0.0, point: Any = None) -> ScheduledTest:
    """A plan test for the scheduler: a background start or end when its procedure says so
    (`background = "start"` / `"end"`) and its item has a condition a host can meet; else a
    foreground test with the condition its loads meet (`point`: its accuracy point)."""
    role = getattr(procedure_cls, "background", "")
    condition = background_condition(item) if role else None
    hosts = None if role else host_condition(item, point)
    return ScheduledTest(nodeid, item.family, item.id, seconds, role if condition else "",
                         condition, minimum, hosts, getattr(procedure_cls, "aligned_to_s", 0.0))


def schedule(tests: Sequence[ScheduledTest], durations: dict[str, float]) -> Schedule:
    """The run order: each background window (start, its hosts, end) where its start was, then
    the other tests in their collected order. Each host test joins the first window whose
    condition its loads meet (`ScheduledTest.hosts`); a window with no hosts keeps start and
    end adjacent (the end dwells)."""
    windows: dict[str, Window] = {}
    for t in tests:
        if t.role and t.condition is not None:
            w = windows.setdefault(t.item_id, Window(t.item_id, t.condition,
                                                     durations[t.item_id]))
            if t.role == "start":
                w.start = t.nodeid
            else:
                w.end = t.nodeid
    complete = [w for w in windows.values() if w.start and w.end]
    hosted: set[str] = set()
    for t in tests:
        if t.role:
            continue
        for w in complete:
            if t.hosts is not None and t.hosts is w.condition:
                w.hosts.append(t)
                hosted.add(t.nodeid)
                break
    in_window = {w.start for w in complete} | {w.end for w in complete} | hosted
    order: list[str] = []
    for t in tests:
        w = next((w for w in complete if w.start == t.nodeid), None)
        if w is not None:
            order += [w.start, *(h.nodeid for h in w.hosts), w.end]
        elif t.nodeid not in in_window:
            order.append(t.nodeid)
    waits = unaligned_waits(order, tests)
    for w in complete:  # a host's time in its window is its time in this order
        w.hosts = [dataclasses.replace(h, seconds=h.seconds - waits.get(h.nodeid, 0.0),
                                       minimum=h.minimum - waits.get(h.nodeid, 0.0))
                   for h in w.hosts]
    return Schedule(order, complete, waits)


def unaligned_waits(order: Sequence[str], tests: Sequence[ScheduledTest]) -> dict[str, float]:
    """Each boundary-aligned test (`aligned_s`) that does not follow a test of its own family in
    `order`: half its interval. Its planned time counts a whole interval to its first boundary,
    which is what it waits after a test of its family (that one ended just past a boundary);
    after any other test the meter's boundary phase is unknown, uniform over the interval, and
    the wait half an interval on average."""
    by_id = {t.nodeid: t for t in tests}
    waits: dict[str, float] = {}
    before = None
    for nodeid in order:
        t = by_id[nodeid]
        if t.aligned_s and (before is None or before.family != t.family):
            waits[nodeid] = t.aligned_s / 2
        before = t
    return waits


def meets(condition: Condition, point: LoadPoint | None, rating: Rating) -> str:
    """Why `point` breaks `condition` ("" when it does not); None is the source off."""
    if point is None:
        return "the source is off (the meter is not energised)"
    lo, hi = VOLTAGE_RANGE
    for n, ph in enumerate(point.phases, start=1):
        # (to a part in 1e9: 1.15 x 220 V is 252.99999999999997 in floating point)
        if not lo * rating.un * (1 - 1e-9) <= ph.voltage <= hi * rating.un * (1 + 1e-9):
            return (f"L{n} at {ph.voltage:g} V, outside {lo:g}-{hi:g} Un "
                    f"({lo * rating.un:g}-{hi * rating.un:g} V)")
    if condition is Condition.NO_CURRENT:
        top = NO_CURRENT_MAX_IN * rating.in_
        for n, ph in enumerate(point.phases, start=1):
            if ph.current > top:
                return (f"L{n} carries {ph.current:g} A, above {NO_CURRENT_MAX_IN:g} In "
                        f"({top:g} A)")
    # AT_LEAST_IN: any current; the window's mean I^2 decides (`conflicts`).
    return ""


@dataclass(frozen=True)
class Applied:
    """One load the bench applied: when (the timebase's clock), what (None: off), by which
    test."""

    at: float
    point: LoadPoint | None
    test: str


class LoadLog:
    """Every load the session applied, in order (the bench's `applied` listener), with the plan
    test running at the time."""

    def __init__(self) -> None:
        self.entries: list[Applied] = []
        self.test = ""

    def note(self, at: float, point: LoadPoint | None) -> None:
        self.entries.append(Applied(at, point, self.test))

    def between(self, t0: float, t1: float) -> list[tuple[Applied, float]]:
        """Each load in force during [t0, t1] and how long it was (the one applied before t0
        from t0 on)."""
        spans: list[tuple[Applied, float]] = []
        for k, e in enumerate(self.entries):
            until = self.entries[k + 1].at if k + 1 < len(self.entries) else t1
            a, b = max(e.at, t0), min(until, t1)
            if b > a or (e.at >= t0 and e.at <= t1):
                spans.append((e, max(0.0, b - a)))
        return spans


def conflicts(condition: Condition, spans: Iterable[tuple[Applied, float]],
              rating: Rating) -> list[str]:
    """Every load of the window that breaks `condition`, named by its test; for AT_LEAST_IN
    also a phase whose mean I^2 over the window is below In^2."""
    spans = list(spans)
    found = [f"{e.test or 'between tests'}: {_load_text(e.point)}: {why}"
             for e, _ in spans if (why := meets(condition, e.point, rating))]
    if condition is Condition.AT_LEAST_IN:
        total = sum(d for _, d in spans)
        for n in range(3):
            if total <= 0:
                break
            mean = sum((e.point.phases[n].current ** 2 if e.point else 0.0) * d
                       for e, d in spans) / total
            if mean < rating.in_ ** 2 * (1 - 1e-9):
                found.append(f"L{n + 1}: mean I^2 over the window {mean:.4g} A^2 is below "
                             f"In^2 ({rating.in_ ** 2:g} A^2) over {hms(total)}")
    return found


def _load_text(point: LoadPoint | None) -> str:
    if point is None:
        return "source off"
    return ", ".join(f"L{n} {ph.voltage:g} V {ph.current:g} A"
                     for n, ph in enumerate(point.phases, start=1))
