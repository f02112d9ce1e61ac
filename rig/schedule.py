"""The plan's schedule: background items run during the families that can host them.

A background item needs of the bench only an energised meter under one load condition and
elapsed time: clock drift at no load and at rated current (rig.procedures.clock). It is two
plan tests: its start (load, settle, first clock reading) before its hosts and its end (its last
reading, its verdicts) after them; the readings in between are taken between host tests when
they fall due (rig.procedures.clock.BackgroundClock). A host is a plan family whose every load
meets the background item's condition (`HOST_LOADS`: what each family's procedures apply, the
static claim), and the session's load log (`LoadLog`) proves it at run time: the item's end
fails naming the test and load that broke its condition (`conflicts`).

Conditions (the meter's own dissipation is what differs between them: the clock's crystal drifts
about 0.15 s/day per degree, IEC 62054-21 via standards.md 4.2, so what matters is the heat
the meter makes):
- `NO_CURRENT`: every phase voltage within the extended operating range 0.8-1.15 Un (IEC
  62052-11, standards.md 5.1) and no current above 0.01 In. The current circuits' dissipation
  goes with I^2: at 0.01 In it is 1e-4 of that at In, nothing beside the voltage circuits'.
  Hosts: the no-load (creep) test at 1.15 Un, the starting test at 0.001-0.003 In.
- `AT_LEAST_IN` ("at rated current", A1000 manual 3.2.3 / issue 13): every load has the voltage
  on every phase (0.8-1.15 Un) and either at least In on every phase or no current (a register
  read at Un), and over the window the time average of I^2 on every phase is at least In^2. The
  meter's temperature rise is linear in its dissipation (first-order thermal path), and the
  clock's accumulated error is linear in its temperature over the window, so a window whose mean
  I^2 is at least In^2 heats the clock at least as much, on average, as In held throughout: at
  least as severe as the single-load test. Hosts: the doses (meter constant, register dosage,
  quadrant registers, register map), at Imax with register reads at Un in between.
Power-down families (interruption, events' voltage loss, load profile's outage) host nothing.
"""

from __future__ import annotations

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
    AT_LEAST_IN = "current >= In on every phase (mean I^2), voltage on"


#: The condition every load of a family's procedures meets (checked at run time by LoadLog):
#: no_load applies 1.15 Un alone (rig.procedures.pulses); starting 0.001 In / 0.003 In (plan
#: items start.*); meter_constant, register_dosage, register (quadrants) and register_map dose
#: at the item's current (Imax in the default plan) and read the registers at Un alone
#: (rig.procedures.meter_constant, registers, register_map). Not hosts: demand (its rolling
#: item runs at 0.5 In), load_profile, interruption and events (power down, voltage loss).
HOST_LOADS: dict[str, Condition] = {
    "no_load": Condition.NO_CURRENT,
    "starting": Condition.NO_CURRENT,
    "meter_constant": Condition.AT_LEAST_IN,
    "register_dosage": Condition.AT_LEAST_IN,
    "register": Condition.AT_LEAST_IN,
    "register_map": Condition.AT_LEAST_IN,
}


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
                   minimum: float = 0.0) -> ScheduledTest:
    """A plan test for the scheduler: a background start or end when its procedure says so
    (`background = "start"` / `"end"`) and its item has a condition a host can meet."""
    role = getattr(procedure_cls, "background", "")
    condition = background_condition(item) if role else None
    return ScheduledTest(nodeid, item.family, item.id, seconds, role if condition else "",
                         condition, minimum)


def schedule(tests: Sequence[ScheduledTest], durations: dict[str, float]) -> Schedule:
    """The run order: each background window (start, its hosts, end) where its start was, then
    the other tests in their collected order. Each host family joins the first window whose
    condition it meets; a window with no hosts keeps start and end adjacent (the end dwells)."""
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
            if HOST_LOADS.get(t.family) is w.condition:
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
    return Schedule(order, complete)


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
    currents = [ph.current for ph in point.phases]
    if condition is Condition.NO_CURRENT:
        top = NO_CURRENT_MAX_IN * rating.in_
        for n, i in enumerate(currents, start=1):
            if i > top:
                return f"L{n} carries {i:g} A, above {NO_CURRENT_MAX_IN:g} In ({top:g} A)"
        return ""
    if all(i == 0 for i in currents) or all(i >= rating.in_ for i in currents):
        return ""
    low = [f"L{n} {i:g} A" for n, i in enumerate(currents, start=1) if i < rating.in_]
    return f"{', '.join(low)} below In ({rating.in_:g} A) and not zero"


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
