"""Clock accuracy at reference conditions: A1000 manual 3.2.3, +-0.5 s/day at 23 C
(IEC 62054-21 [M], standards.md 4.2), with the meter at no load and at rated current.

Method (standards.md 4.3 item 2): the meter clock is read through IEC 62056-21 at real line
timing (one R1 is an exchange of about 0.43 s at 9600 Bd with tr = 200 ms); its seconds
roll-over is bracketed by vernier polling (`rig.meterlink.clock_offsets`: polls an exchange
apart whose phases in the second step by the item's resolution, 0.025 s by default). Offsets
are taken at the start and at checkpoints over `duration_h`; the error at a checkpoint is the
difference of two offsets, in which the meter's latch instant within its answer cancels, so
its uncertainty is the two brackets (+-resolution/2 each, rectangular). The limit grows pro
rata with the time elapsed. A fast-running clock fails here.

Load: `current: 0` applies Un alone (no load); `current: 1.0` Un and In at PF 1, so a clock
whose crystal warms with the meter's own dissipation would drift more there. The A1000 model's
clock does not depend on load or temperature (meter/a1000/clock.py): both items expect the
same drift.

Background (rig.schedule): an item's time needs only an energised meter under its load
condition, so it runs during the plan families that meet it. `ClockStart` (its own test) takes
the load, the settling and the first reading before them; the plugin reads the clocks between
two host tests whenever a checkpoint fell due (`BackgroundClock.read_due`); `ClockDrift`
(the item's end) re-applies its load for the checkpoints still to come, checks every load
applied in the window against its condition (the session's load log) and records. Without its
start test before it (not scheduled, or a resumed run) `ClockDrift` measures in place.

Expected values, worked by hand from the A1000 manual and the model's configuration:
- healthy meter: drift +1 ppm (meter/a1000/config.py) = 1e-6 x 86400 s = +0.0864 s/day,
  inside +-0.5 s/day (manual 3.2.3); after 6 h (first checkpoint of 24 h) +0.0216 s against
  +-0.125 s; resolution 0.025 s per reading, so the error is known to +-0.025 s.
- `fast_clock` (2 s/day): after 6 h +0.5 s against +-0.125 s: fails from the first checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.linetime import clock_reading_s
from rig.loads import Rating
from rig.measure import settle
from rig.meterlink import ClockReading, MeterLink, MeterReadError, clock_offsets
from rig.metrology import UncertaintyComponent, combine, rectangular
from rig.plan import ClockItem
from rig.procedures import Context, Declared
from rig.recorder import Recorder
from rig.schedule import Condition, background_condition, conflicts
from rig.timeref import TimeReference

CHECKPOINTS = 4
SETTLING_S = 5.0


@dataclass(frozen=True)
class ClockDrift:
    """Clock offsets at the start and at CHECKPOINTS checkpoints over the item's duration."""

    item: ClockItem
    rating: Rating
    #: The end of a background item (rig.schedule): run after its hosts.
    background = "end"

    @property
    def declared(self) -> tuple[Declared, ...]:
        rule = f"+-{self.item.limit_s_per_day:g} s/day x the time elapsed (manual 3.2.3)"
        return (Declared("clock error", "s", self.item.clause, rule=rule),
                Declared("clock error over the test", "s", self.item.clause, rule=rule))

    def elapsed_points(self) -> list[float]:
        duration = self.item.duration_h * 3600.0
        return [duration * (k + 1) / CHECKPOINTS for k in range(CHECKPOINTS)]

    def planned_seconds(self) -> float:
        """Settling, the first clock reading, the duration (the last checkpoint is at its
        end), the last reading."""
        return (SETTLING_S + 2 * clock_reading_s(self.item.resolution_s)
                + self.item.duration_h * 3600.0)

    def points(self) -> list[dict[str, Any]]:
        return [{"elapsed_s": round(e, 3), "load": self.item.current}
                for e in self.elapsed_points()]

    def load(self) -> LoadPoint:
        """The item's own load: Un alone, or Un and `current` x In at PF 1."""
        rating = self.rating
        return (LoadPoint.at(rating.un, rating.in_, self.item.current) if self.item.current
                else LoadPoint.voltage_only(rating.un))

    def run(self, ctx: Context, recorder: Recorder) -> None:
        item = self.item
        checkpoint, final_error = self.declared
        duration = item.duration_h * 3600.0
        descs = dict(zip(self.elapsed_points(), self.points(), strict=True))
        # Each checkpoint is committed on its own: a resumed run measures only the missing ones,
        # from a new first reading (each row holds its own span), and keeps the stored ones.
        todo = recorder.todo(ctx.numbers, list(descs.values()))
        if not todo:
            recorder.verdicts()
            return
        clock = ctx.rig.background.pop(item.id, None)
        if clock is not None and clock.error:
            pytest.fail(f"{item.id}: {clock.error}", pytrace=False)
        hosted = clock is not None
        if clock is None:  # no start test before (not scheduled, or a resumed run): in place
            clock = BackgroundClock.begin(self, ctx)
        elif not clock.done:
            settle(ctx.bench, ctx.timebase, self.load(), SETTLING_S)
        wrong = clock.conflicts_until_done(ctx, self.rating) if hosted else []
        if wrong:
            pytest.fail(f"{item.id}: a load applied in its window broke its condition "
                        f"({clock.condition.value}), so its drift is void: "
                        + "; ".join(wrong) + clock.summary(), pytrace=False)

        def record(elapsed: float, readings: dict[int, ClockReading]) -> None:
            desc = descs[elapsed]
            if desc not in todo:
                return
            with recorder.point(ctx.numbers, desc) as take:
                for n, now in readings.items():
                    first = clock.first[n]
                    span = now.true_time - first.true_time
                    # Against the send instants: the latch within the answer is common to both.
                    error = now.sent_offset_s - first.sent_offset_s
                    budget = combine([
                        rectangular("first reading", first.resolution_s / 2,
                                    f"vernier bracket of {first.probes} polls"),
                        rectangular("this reading", now.resolution_s / 2,
                                    f"vernier bracket of {now.probes} polls"),
                        *_reference_components("first reading", first.reference),
                        *_reference_components("this reading", now.reference),
                    ])
                    # Pro rata with the time elapsed: the checkpoint's own in place; the span
                    # in the background, where a reading waits for the host test to end.
                    limit = item.limit_s_per_day * (span if hosted else elapsed) / 86400.0
                    final = math.isclose(elapsed, duration)
                    (final_error if final else checkpoint).record(
                        take,
                        n,
                        desc,
                        error,
                        limits=(-limit, limit),
                        budget=budget,
                        raw={
                            "drift_s_per_day": error / span * 86400.0,
                            "span_s": span,
                            "offset_start_s": first.offset_s,
                            "offset_s": now.offset_s,
                            "resolution_s": now.resolution_s,
                            "polls": now.probes,
                            "load_in": item.current,
                            "background": hosted,
                            "time_reference_start": _reference_dict(first.reference),
                            "time_reference": _reference_dict(now.reference),
                        },
                        started_at=clock.started,
                        message=f"drift {error / span * 86400.0:+.3f} s/day over "
                        f"{span / 3600:.1f} h at {_load_text(item.current)} (limit "
                        f"+-{item.limit_s_per_day} s/day; offsets to "
                        f"+-{max(first.resolution_s, now.resolution_s) / 2 * 1000:.0f} ms)",
                    )

        for elapsed, readings in clock.readings.items():  # taken between host tests
            record(elapsed, readings)
        clock.finish(ctx, record)
        recorder.verdicts()


@dataclass
class BackgroundClock:
    """A clock item's readings: the first, then one at each checkpoint once it is due. In the
    background (rig.schedule) the start test begins it and the plugin calls `read_due` between
    the host tests; the item's end test finishes it at its own load. Readings taken between
    hosts are kept here until the end test records them: a run killed meanwhile measures the
    item again, in place, when resumed."""

    drift: ClockDrift
    condition: Condition | None
    links: dict[int, MeterLink]
    first: dict[int, ClockReading]
    started: float
    readings: dict[float, dict[int, ClockReading]] = field(default_factory=dict)
    closed_at: float | None = None  # when the last checkpoint was read: the window's end
    error: str = ""  # a reading between hosts that failed (the end test fails with it)

    @classmethod
    def begin(cls, drift: ClockDrift, ctx: Context) -> BackgroundClock:
        """Apply the item's load, settle, read every position's clock offset."""
        settle(ctx.bench, ctx.timebase, drift.load(), SETTLING_S)
        links = {p.number: ctx.rig.link(p) for p in ctx.positions}
        first = clock_offsets(links, ctx.timebase, drift.item.resolution_s)
        return cls(drift, background_condition(drift.item), links, first, time.time())

    @property
    def t0(self) -> float:
        return min(r.true_time for r in self.first.values())

    @property
    def done(self) -> bool:
        return self.closed_at is not None

    def _read(self, ctx: Context, elapsed: list[float]) -> dict[int, ClockReading]:
        readings = clock_offsets(self.links, ctx.timebase, self.drift.item.resolution_s)
        for e in elapsed:
            self.readings[e] = readings
        if len(self.readings) == CHECKPOINTS:
            self.closed_at = ctx.timebase.now()
        return readings

    def read_due(self, ctx: Context) -> None:
        """Between host tests: one reading for every checkpoint due by now (none due: none)."""
        now = ctx.timebase.now()  # once: on a simulated bench each is a request to it
        due = [e for e in self.drift.elapsed_points()
               if e not in self.readings and self.t0 + e <= now]
        if due and not self.error:
            try:
                self._read(ctx, due)
            except MeterReadError as exc:
                self.error = f"the clock reading between host tests failed: {exc}"

    def finish(self, ctx: Context,
               record: Callable[[float, dict[int, ClockReading]], None]) -> None:
        """Each checkpoint not read yet, at its time (the item's own load applied)."""
        for e in self.drift.elapsed_points():
            if e in self.readings:
                continue
            ctx.timebase.dwell(max(0.0, self.t0 + e - ctx.timebase.now()), label="clock")
            record(e, self._read(ctx, [e]))

    def conflicts_until_done(self, ctx: Context, rating: Rating) -> list[str]:
        """The loads of the window that broke the item's condition (rig.schedule.conflicts),
        the window running to the last checkpoint (its remainder at the item's own load)."""
        if self.condition is None:
            return []
        end = self.closed_at
        if end is None:
            end = self.t0 + self.drift.item.duration_h * 3600.0
        return conflicts(self.condition, ctx.rig.loads.between(self.t0, end), rating)

    def summary(self) -> str:
        """The drift measured so far, for a failure message (nothing measured is lost)."""
        if not self.readings:
            return ""
        last = max(self.readings)
        parts = [f"position {n}: {(r.sent_offset_s - self.first[n].sent_offset_s):+.3f} s over "
                 f"{(r.true_time - self.first[n].true_time) / 3600:.2f} h"
                 for n, r in self.readings[last].items()]
        return " (measured: " + "; ".join(parts) + ")"


@dataclass(frozen=True)
class ClockStart:
    """The start of a clock item run in the background (rig.schedule): its load, settling and
    first reading, kept in the session for the item's end test; it records nothing."""

    item: ClockItem
    rating: Rating
    #: The start of a background item (rig.schedule): run before its hosts.
    background = "start"

    @property
    def declared(self) -> tuple[Declared, ...]:
        return ClockDrift(self.item, self.rating).declared

    def points(self) -> list[dict[str, Any]]:
        return []

    def planned_seconds(self) -> float:
        """Settling and the first reading (the end test plans the rest)."""
        return SETTLING_S + clock_reading_s(self.item.resolution_s)

    def run(self, ctx: Context, recorder: Recorder) -> None:
        drift = ClockDrift(self.item, self.rating)
        if not recorder.todo(ctx.numbers, drift.points()):
            return  # a resumed run stored every checkpoint already
        ctx.rig.background[self.item.id] = BackgroundClock.begin(drift, ctx)


def _reference_components(label: str, ref: TimeReference | None) -> list[UncertaintyComponent]:
    """The time reference's own error at one reading: the kernel's bound on the host clock
    (maxerror, rig.timeref), taken as rectangular. None or no bound (virtual time is exact; an
    unsynchronised host has no bound, which the stored reference says) adds nothing."""
    if ref is None or not ref.max_error_s:
        return []
    return [rectangular(f"time reference, {label}", ref.max_error_s, str(ref))]


def _reference_dict(ref: TimeReference | None) -> dict[str, Any] | None:
    return None if ref is None else ref.as_dict()


def _load_text(current: float) -> str:
    return f"{current:g} In, PF 1" if current else "no load (Un only)"
