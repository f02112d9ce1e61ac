"""Time-of-use switching: the delay of a tariff switch (A1000 manual 3.2.4: less than 0.1 s)
and the holiday > weekend > season priority across a year end (manual 1.4 items 2-9).

Switch delay, method: the meter's clock offset is measured first (seconds roll-over caught by
polling, +-POLL_S/2); a daily profile with a boundary two minutes ahead of the meter clock is
written; the tariff in force (C.14.0) is polled every POLL_S around the boundary with the
timebase advanced between polls. The delay is the time of the first poll showing the new tariff
minus the boundary in true time, to +-POLL_S (poll) and +-POLL_S/2 (offset). On a lab bench the
poll interval is bounded by one IEC 62056-21 R1 exchange (about 40 ms at 9600 Bd with a 20 ms
reaction time, 400 ms with 200 ms): set POLL_S to match and widen the uncertainty accordingly.

Priority, method: tables worked by hand (below) are written, the meter clock is set to noon of
each date in turn and C.14.0 is read; the expected tariffs are the hand-worked calendar.
The tables and the clock are restored afterwards.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import pytest

from meter.iec62056_21.readings import Reading
from reports.decision import combine, rectangular
from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating
from rig.measure import settle
from rig.meterlink import MeterLink, MeterSessions, clock_offsets, each, meter_datetime
from rig.plan import TouItem
from rig.recorder import Recorder
from rig.session import MeterPosition

TARIFF = "C.14.0"
TABLES = ("C.90.1", "C.90.2", "C.90.5", "C.90.6", "C.90.7")
POLL_S = 0.01
SETTLING_S = 2.0
# Priority calendar (A1000 manual 1.4 items 2-5): P1 all day tariff 1, P2 all day tariff 2;
# seasons from Jan 1 use P1 and from Jun 1 P2; Saturday and Sunday fixed tariff 3; two public
# holidays fixed tariff 4.
PRIORITY_TABLES = {
    "C.90.1": ("00:00=1",),
    "C.90.2": ("00:00=2",),
    "C.90.5": ("01-01=P1", "06-01=P2"),
    "C.90.6": ("67", "T3"),
    "C.90.7": ("2026-12-25=T4", "2027-01-01=T4"),
}
# Worked by hand: weekday (ISO) and the rule that wins.
EXPECTED = (
    ("2026-12-24", 2),  # Thursday, season from Jun 1 -> P2 -> tariff 2
    ("2026-12-25", 4),  # Friday, public holiday -> T4 (holiday beats season)
    ("2026-12-26", 3),  # Saturday -> weekend T3
    ("2026-12-31", 2),  # Thursday, last day of the Jun 1 season
    ("2027-01-01", 4),  # Friday, holiday (beats the new season)
    ("2027-01-02", 3),  # Saturday, weekend beats season
    ("2027-01-04", 1),  # Monday, season from Jan 1 -> P1 -> tariff 1
)


@contextmanager
def programmed(rig, positions: Sequence[MeterPosition], links: Mapping[int, MeterLink],
               tables: dict[str, tuple[str, ...]]) -> Iterator[None]:
    """Write `tables` to every meter at once; afterwards restore each meter's previous tables
    and leave programming."""
    before = each(links, lambda link: link.read(*TABLES))
    saved = {n: {a: tuple(v.value for v in r.values) for a, r in b.items()}
             for n, b in before.items()}
    with rig.programming(*positions):
        try:
            each(links, lambda link: link.write(list(tables.items())))
            yield
        finally:
            each(links, lambda link: link.write(
                [(a, v) for a, v in saved[link.number].items() if a in tables]))


def _tariff(link: MeterLink) -> int:
    return int(link.value(TARIFF))


def _tariff_of(readings: Mapping[str, Reading]) -> int:
    value = readings[TARIFF].value
    if value is None:
        raise AssertionError(f"{TARIFF}({readings[TARIFF].raw}) is not a tariff number")
    return int(value)


@pytest.mark.family("tou", check="switch_delay")
def test_switch_delay(plan_item, rig, bench, timebase, positions, recorder):
    item: TouItem = plan_item
    numbers = [p.number for p in positions]
    desc = {"check": "switch_delay", "poll_ms": round(POLL_S * 1000)}
    done = recorder.done(numbers, desc)
    if done is None:
        rating = Rating.of(positions[0].config)
        settle(bench, timebase, LoadPoint.at(rating.un, rating.in_, item.current), SETTLING_S)
        started = time.time()
        recorder.started(numbers, desc)
        done = _switch_all(rig, timebase, positions, item, recorder, desc, started)
    Recorder.assert_all_pass(done)


def _switch_all(rig, timebase, positions, item, recorder, desc, started):
    """One boundary for every position (each in its own meter time), polled together."""
    links = {p.number: rig.link(p) for p in positions}
    clocks = clock_offsets(links, timebase, POLL_S)
    # The boundary: two minutes ahead of the slowest meter clock, on a whole minute (the
    # programming state, all meters together, takes 8 s of button holding first).
    meter_now = meter_datetime(timebase.now() + min(c.offset_s for c in clocks.values()))
    lead = dt.timedelta(minutes=2, seconds=10)
    boundary = (meter_now + lead).replace(second=0, microsecond=0)
    if boundary.hour == 0 and boundary.minute == 0:  # a 00:00 boundary is the first section
        boundary += dt.timedelta(minutes=1)
    profile = ("00:00=1", f"{boundary:%H:%M}=2")
    tables = {"C.90.1": profile, "C.90.5": ("01-01=P1",), "C.90.6": ("", "T1"),
              "C.90.7": ("",)}
    boundary_s = (boundary - dt.datetime(1970, 1, 1)).total_seconds()
    true_boundary = {n: boundary_s - c.offset_s for n, c in clocks.items()}
    seen: dict[int, float] = {}
    with programmed(rig, positions, links, tables):
        timebase.dwell(max(0.0, min(true_boundary.values()) - 0.2 - timebase.now()),
                       label="to boundary")
        # Each meter's session stays open through the polls: a poll is one R1.
        with MeterSessions(links) as sessions:
            before = {n: _tariff_of(r) for n, r in sessions.read(TARIFF).items()}
            end = max(true_boundary.values()) + 2.0
            while timebase.now() < end and len(seen) < len(links):
                timebase.dwell(POLL_S, label="tariff poll")
                now = timebase.now()
                switched = [n for n, r in sessions.read(TARIFF).items() if _tariff_of(r) == 2]
                seen.update(dict.fromkeys(switched, now))
                sessions.end(switched)
    rows = []
    budget = combine([rectangular("poll interval", POLL_S),
                      rectangular("clock offset", max(c.half_width_s for c in clocks.values()))])
    with recorder.batch():  # every position's results in one commit
        for n in links:
            if n not in seen or before[n] != 1:
                why = (f"tariff was {before[n]} before the boundary (expected 1)" if before[n] != 1
                       else "no switch to tariff 2 within 2 s of the boundary")
                rows.append(recorder.record(n, desc, "tariff switch delay", None, "s",
                                            limit_low=0.0, limit_high=item.limit_s, budget=budget,
                                            started_at=started, message=why,
                                            raw={"boundary": f"{boundary}"}))
                continue
            # The switch happened within the last poll interval: its midpoint, against the boundary.
            delay = seen[n] - POLL_S / 2 - true_boundary[n]
            rows.append(recorder.record(
                n, desc, "tariff switch delay", delay, "s",
                limit_low=-POLL_S, limit_high=item.limit_s, budget=budget, started_at=started,
                raw={"boundary_meter_time": f"{boundary:%Y-%m-%d %H:%M:%S}", "poll_s": POLL_S,
                     "clock_offset_s": clocks[n].offset_s},
                message=f"switch {delay * 1000:.0f} ms after the boundary (limit "
                        f"{item.limit_s * 1000:.0f} ms, manual 3.2.4)",
            ))
    return rows


@pytest.mark.family("tou", check="priority")
def test_priority(plan_item, rig, bench, timebase, positions, recorder):
    del plan_item  # the tables and dates of this check are the hand-worked ones above
    rating = Rating.of(positions[0].config)
    numbers = [p.number for p in positions]
    settle(bench, timebase, LoadPoint.voltage_only(rating.un), SETTLING_S)
    started = time.time()
    links = {p.number: rig.link(p) for p in positions}
    offsets = {n: c.offset_s for n, c in clock_offsets(links, timebase, 0.05).items()}
    rows = []
    with programmed(rig, positions, links, PRIORITY_TABLES):
        try:
            for day, expected in EXPECTED:
                desc = {"date": day}
                done = recorder.done(numbers, desc)
                if done is not None:
                    rows.extend(done)
                    continue
                recorder.started(numbers, desc)
                noon = [("0.9.2", (day[2:].replace("-", ""),)), ("0.9.1", ("120000",))]
                each(links, lambda link, noon=noon: link.write(noon))
                got = each(links, _tariff)
                weekday = f"{dt.date.fromisoformat(day):%A}"
                with recorder.batch():  # every position's result in one commit
                    rows.extend(
                        recorder.record(
                            n, desc, "tariff in force", float(tariff), "tariff",
                            limit_low=float(expected), limit_high=float(expected),
                            started_at=started, raw={"expected": expected},
                            message=f"{day} ({weekday}): tariff {tariff}, expected {expected}",
                        )
                        for n, tariff in got.items()
                    )
        finally:
            # Back to true time plus each meter's own offset (to the second).
            def restore(link: MeterLink) -> None:
                back = meter_datetime(timebase.now() + offsets[link.number])
                link.write([("0.9.2", (f"{back:%y%m%d}",)), ("0.9.1", (f"{back:%H%M%S}",))])

            each(links, restore)
    Recorder.assert_all_pass(rows)
