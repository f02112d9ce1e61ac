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

Expected values, worked by hand from the A1000 manual and the model's configuration:
- healthy meter: drift +1 ppm (meter/a1000/config.py) = 1e-6 x 86400 s = +0.0864 s/day,
  inside +-0.5 s/day (manual 3.2.3); after 6 h (first checkpoint of 24 h) +0.0216 s against
  +-0.125 s; resolution 0.025 s per reading, so the error is known to +-0.025 s.
- `fast_clock` (2 s/day): after 6 h +0.5 s against +-0.125 s: fails from the first checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from rig.instruments.loadpoint import LoadPoint
from rig.linetime import clock_reading_s
from rig.loads import Rating
from rig.measure import settle
from rig.meterlink import clock_offsets
from rig.metrology import UncertaintyComponent, combine, rectangular
from rig.plan import ClockItem
from rig.procedures import Context, Declared
from rig.recorder import Recorder
from rig.timeref import TimeReference

CHECKPOINTS = 4
SETTLING_S = 5.0


@dataclass(frozen=True)
class ClockDrift:
    """Clock offsets at the start and at CHECKPOINTS checkpoints over the item's duration."""

    item: ClockItem
    rating: Rating

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

    def run(self, ctx: Context, recorder: Recorder) -> None:
        item, rating = self.item, self.rating
        rig, bench, timebase, positions, numbers = (ctx.rig, ctx.bench, ctx.timebase,
                                                    ctx.positions, ctx.numbers)
        checkpoint, final_error = self.declared
        duration = item.duration_h * 3600.0
        elapsed_points = self.elapsed_points()
        descs = self.points()
        # Each checkpoint is committed on its own: a resumed run measures only the missing ones,
        # from a new first reading (each row holds its own span), and keeps the stored ones.
        todo = recorder.todo(numbers, descs)
        if not todo:
            recorder.verdicts()
            return
        load = (LoadPoint.at(rating.un, rating.in_, item.current) if item.current
                else LoadPoint.voltage_only(rating.un))
        settle(bench, timebase, load, SETTLING_S)
        links = {p.number: rig.link(p) for p in positions}
        first = clock_offsets(links, timebase, item.resolution_s)
        started = time.time()
        for desc, elapsed in zip(descs, elapsed_points, strict=True):
            if desc not in todo:
                continue
            with recorder.point(numbers, desc) as take:
                timebase.dwell(max(0.0, first[numbers[0]].true_time + elapsed - timebase.now()),
                               label="clock")
                readings = clock_offsets(links, timebase, item.resolution_s)
                for n, now in readings.items():
                    span = now.true_time - first[n].true_time
                    # Against the send instants: the latch within the answer is common to both.
                    error = now.sent_offset_s - first[n].sent_offset_s
                    budget = combine([
                        rectangular("first reading", first[n].resolution_s / 2,
                                    f"vernier bracket of {first[n].probes} polls"),
                        rectangular("this reading", now.resolution_s / 2,
                                    f"vernier bracket of {now.probes} polls"),
                        *_reference_components("first reading", first[n].reference),
                        *_reference_components("this reading", now.reference),
                    ])
                    limit = item.limit_s_per_day * elapsed / 86400.0
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
                            "offset_start_s": first[n].offset_s,
                            "offset_s": now.offset_s,
                            "resolution_s": now.resolution_s,
                            "polls": now.probes,
                            "load_in": item.current,
                            "time_reference_start": _reference_dict(first[n].reference),
                            "time_reference": _reference_dict(now.reference),
                        },
                        started_at=started,
                        message=f"drift {error / span * 86400.0:+.3f} s/day over "
                        f"{span / 3600:.1f} h at {_load_text(item.current)} (limit "
                        f"+-{item.limit_s_per_day} s/day; offsets to "
                        f"+-{max(first[n].resolution_s, now.resolution_s) / 2 * 1000:.0f} ms)",
                    )
        recorder.verdicts()


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
