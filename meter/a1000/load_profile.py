"""Load profile recording of the A1000 (manual 1.6).

* 15-minute interval aligned to the meter clock, six channels: active import, active export,
  reactive Q1, Q2, Q3, Q4 (manual 1.6 item 1), energy registered in each interval (OBIS D = 29,
  standards.md 7: 1.29.0, 2.29.0, 5.29.0 .. 8.29.0).
* 128 KiB ring storage, oldest entries overwritten (manual 1.6 item 2).

Record layout (little endian, packed, `RECORD = struct.Struct("<IB6I")`, 29 bytes):

    uint32  meter time of the end of the interval, seconds since 1970-01-01 00:00 local
    uint8   status flags (below)
    6 x uint32  channel energies in units of 0.1 Wh / 0.1 varh (0.0001 kWh resolution,
                up to 429 496 kWh per interval)

Capacity = 131072 // 29 = 4519 entries (47 days of 15-minute intervals).

Status flags (one byte; bits 4..7 reserved, always 0):

    0x01 POWER_DOWN  the meter was powered down during the interval
    0x02 CLOCK_SET   the clock was set during the interval
    0x04 SHORT       the interval is shorter than 15 min (start, power-up, clock setting)
    0x08 RESET       a demand reset / billing happened during the interval
    0x10 PROGRAMMING the meter was in programming mode during the interval

Programming mode (manual 2.1.1: the meter does only energy, demand and tariff switching): the
profile stops as in a power-down (choice): the entry in progress keeps the energy registered up
to the start of programming, energy registered while it lasts is not recorded, intervals
entirely inside it produce no entry, and recording resumes at its end with PROGRAMMING set.

Power-down: the energy of the interval in progress is kept (it is part of the non-volatile
state) and the entry is written with POWER_DOWN at its nominal end if power stays off past it
(written at power-up); intervals entirely inside the outage produce no entry. The interval in
which power returns is SHORT and POWER_DOWN. Clock setting inside the same 15-min slot only flags
the entry; a setting across slots closes the entry in progress (CLOCK_SET|SHORT, stamped with its
old-clock nominal end) and starts a shortened one in the new slot. A backward setting can thus
produce time stamps that are not increasing; readout by range returns entries in storage order.

Readout (standards.md 6.3 R5/R6, 6.5): `P.01(from;to)` with YYMMDDhhmm (an optional leading
season digit is accepted and ignored), either bound may be empty. Reply: a header data set
`P.01(ts)(status)(15)(6)(1.29.0)(kWh)(2.29.0)(kWh)(5.29.0)(kvarh)...(8.29.0)(kvarh)` followed by one
value line `(v1)...(v6)` per entry; a new header starts whenever the status is not zero, the
status changes, or the entry does not follow the previous one by exactly 15 min.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from meter.a1000.clock import MeterClock, meter_datetime, meter_seconds_of
from meter.a1000.component import (
    ComponentBase,
    Jump,
    Repeat,
    config_section,
    defect_names,
    register_defects,
)
from meter.a1000.obis_rows import ObisRow
from meter.iec62056_21.bank import DataSet, RegisterError, Value

INTERVAL_S = 900  # manual 1.6 item 1: 15 minutes
STORAGE_BYTES = 128 * 1024  # manual 1.6 item 2
RECORD = struct.Struct("<IB6I")
# The same record as a numpy type (packed, little endian) for writing runs of entries at once.
RECORD_DTYPE = np.dtype([("time", "<u4"), ("status", "u1"), ("counts", "<u4", (6,))])
CAPACITY = STORAGE_BYTES // RECORD.size  # 4519
UNIT_KWH = 1e-4  # one count = 0.1 Wh
CHANNELS: tuple[tuple[str, str], ...] = (
    ("1.29.0", "kWh"), ("2.29.0", "kWh"),
    ("5.29.0", "kvarh"), ("6.29.0", "kvarh"), ("7.29.0", "kvarh"), ("8.29.0", "kvarh"),
)

POWER_DOWN = 0x01
CLOCK_SET = 0x02
SHORT = 0x04
RESET = 0x08
PROGRAMMING = 0x10

DEFECTS: dict[str, tuple[str, str]] = {
    "load_profile_lost_at_power_down": (
        "the load-profile entry in progress at power-down is never written",
        "power-down test (standards.md 5.1: no data loss; manual 1.6): the entry of the "
        "interval the power failed in is missing",
    ),
}
register_defects(DEFECTS)


class LoadProfileError(ValueError):
    """Bad load profile request (message names the field and the reason)."""


@dataclass(frozen=True)
class Entry:
    meter_time: int  # end of interval, meter seconds
    status: int
    values: tuple[float, ...]  # kWh / kvarh per channel


class RingStore:
    """Fixed-size ring of packed records in a 128 KiB byte buffer."""

    def __init__(self) -> None:
        self.buf = bytearray(STORAGE_BYTES)
        self.head = 0  # index of the next record to write
        self.count = 0

    def append(self, meter_time: int, status: int, counts: list[int]) -> None:
        RECORD.pack_into(self.buf, self.head * RECORD.size, meter_time, status, *counts)
        self.head = (self.head + 1) % CAPACITY
        self.count = min(self.count + 1, CAPACITY)

    def skip(self, n: int) -> None:
        """Advance past n records that later appends overwrite before anything reads them (the
        fast-forward writes only the last CAPACITY entries of a long jump)."""
        self.head = (self.head + n) % CAPACITY
        self.count = min(self.count + n, CAPACITY)

    def write_run(self, first_end: int, skipped: int, counts: np.ndarray,
                  first_status: int = 0) -> None:
        """Entries every INTERVAL_S from ``first_end``, of status ``first_status`` for the
        first and 0 for the others, ``skipped`` of them only counted (later ones of the run
        overwrite them), then one per row of ``counts`` (entries x 6 channels), written at
        once: the bytes ``append`` would leave."""
        n = len(counts)
        self.skip(skipped)
        if not n:
            return
        rows = np.empty(n, dtype=RECORD_DTYPE)  # the records, then their bytes into the ring
        rows["time"] = first_end + INTERVAL_S * (skipped + np.arange(n, dtype=np.int64))
        rows["status"] = 0
        if not skipped:
            rows["status"][0] = first_status
        rows["counts"] = counts
        raw = rows.tobytes()
        size = RECORD.size
        first = min(n, CAPACITY - self.head) * size  # up to the end of the buffer, then its start
        at = self.head * size
        self.buf[at:at + first] = raw[:first]
        self.buf[:len(raw) - first] = raw[first:]
        self.head = (self.head + n) % CAPACITY
        self.count = min(self.count + n, CAPACITY)

    def entries(self) -> list[Entry]:
        """All stored entries, oldest first."""
        out = []
        start = (self.head - self.count) % CAPACITY
        for k in range(self.count):
            ts, st, *c = RECORD.unpack_from(self.buf, ((start + k) % CAPACITY) * RECORD.size)
            out.append(Entry(ts, st, tuple(v * UNIT_KWH for v in c)))
        return out

    def snapshot(self) -> dict[str, Any]:
        data = base64.b64encode(zlib.compress(bytes(self.buf), 6)).decode("ascii")
        return {"head": self.head, "count": self.count, "buf": data}

    def restore(self, d: dict[str, Any]) -> None:
        raw = zlib.decompress(base64.b64decode(d["buf"]))
        if len(raw) != STORAGE_BYTES:
            raise ValueError(f"load profile snapshot: {len(raw)} bytes, expected {STORAGE_BYTES}")
        self.buf = bytearray(raw)
        self.head, self.count = int(d["head"]), int(d["count"])


# How an entry is counted (manual 1.6 says only "energy registered in each interval", 0.1 Wh
# per count by the record layout above): each channel keeps the running total T of the energy
# it has recorded (kWh, float, the spans' energies added in order) and the counts K already
# stored; an entry holds round(T / 0.1 Wh) - K (half to even), clipped to the uint32 field.
# The entries thus sum to the channel's total rounded to 0.1 Wh, as a meter storing the
# differences of an energy register does, without a drift of up to 0.05 Wh per entry. Unlike
# a carried remainder, every entry is known from its end's total alone, so a run of entries is
# worked out at once (``_count_run``): the totals by a running sum, then one rounding each.


def _count(total: float, counted: int) -> int:
    """Counts of 0.1 Wh of the entry ending at a channel's running ``total`` after ``counted``
    counts stored: round(total / 0.1 Wh) - counted, clipped to the uint32 field."""
    return min(max(round(total / UNIT_KWH) - counted, 0), 0xFFFFFFFF)


_TOP = float(0xFFFFFFFF)


def _count_run(totals: np.ndarray, counted: int) -> tuple[np.ndarray, int]:
    """``_count`` of the entries ending at each running total in turn (ascending), as floats
    holding integers, and the counts stored after the last one. One rounding each: the counts
    are differences of the rounded totals, unless one is clipped (an entry over 429 496 kWh, or
    a total below what is stored), which only the step by step rule settles."""
    rounded = np.rint(totals / UNIT_KWH)  # np.rint rounds half to even, as round() does
    counts = rounded.copy()
    counts[1:] -= rounded[:-1]
    counts[:1] -= counted
    if len(counts) and (counts.min() < 0 or counts.max() > _TOP):
        k = counted
        for j, r in enumerate(rounded.tolist()):
            counts[j] = c = min(max(int(r) - k, 0), 0xFFFFFFFF)
            k += c
        return counts, k
    return counts, int(rounded[-1]) if len(rounded) else counted


def _closes(ends: np.ndarray, slot_end: int) -> np.ndarray:
    """Indices of the ends (ascending) that close an entry: ``slot_end`` and every INTERVAL_S
    after it, as long as each one is there (what ``close`` at ``end == slot_end`` does span by
    span)."""
    found = np.flatnonzero(((ends - slot_end) % INTERVAL_S == 0) & (ends >= slot_end))
    if len(found) and ends[found[-1]] == slot_end + INTERVAL_S * (len(found) - 1):
        return found  # ascending, on the grid, and the last is the len-th: none is missing
    closes = []  # a slot missing: the entries stop at it, as the loop's would
    due = slot_end
    for j, end in enumerate(ends.tolist()):
        if end == due:
            closes.append(j)
            due += INTERVAL_S
    return np.array(closes, dtype=np.intp)


# Spans up to which a run is booked span by span (``LoadProfile.close_run``): there the
# loop's CPU time is below the numpy path's fixed cost (about 60-90 us; measured side by side:
# 11 entries of 3 spans 57 us stepped against 92 us, 30 entries 152 against 93).
_SHORT_RUN = 60


def _running(total: float, energy: np.ndarray) -> np.ndarray:
    """``total`` plus each energy in turn: the running totals after each span. A cumulative
    sum adds left to right one element at a time (np.add.accumulate has no pairwise
    summation, unlike np.sum), so these are the loop's ``total += x`` to the last bit
    (tests/meter/a1000/test_load_profile.py checks it)."""
    return np.cumsum(np.concatenate(([total], energy)))[1:]


class LoadProfile:
    """Pure load-profile logic in meter time; energies in kWh/kvarh per channel."""

    def __init__(self, start_meter_s: float, defects: frozenset[str] = frozenset()) -> None:
        self.store = RingStore()
        self.defects = frozenset(defects) & set(DEFECTS)
        self.powered = True
        self._pending = True  # False: nothing to write at power-up (meter new, never powered)
        # Per channel the running total of the energy recorded (kWh / kvarh) and the counts of
        # 0.1 Wh stored in entries so far: an entry holds what the total adds (``_count``).
        self.total = [0.0] * 6
        self.counted = [0] * 6
        self._open(start_meter_s, SHORT if start_meter_s % INTERVAL_S else 0)

    def _open(self, meter_s: float, status: int) -> None:
        self.slot_end = (math.floor(meter_s / INTERVAL_S + 1e-9) + 1) * INTERVAL_S
        self.status = status

    @property
    def next_boundary(self) -> float | None:
        return float(self.slot_end) if self.powered else None

    def add(self, values: list[float]) -> None:
        total = self.total
        for i in range(6):
            total[i] += values[i]

    def _write(self, status: int) -> None:
        counted = self.counted
        counts = [0] * 6
        for i, total in enumerate(self.total):
            if total:  # a channel at 0 counts 0 (nothing can be stored below it)
                counts[i] = c = _count(total, counted[i])
                counted[i] += c
        self.store.append(int(self.slot_end), status, counts)

    def close(self) -> None:
        """Nominal end of the interval in progress (meter time `slot_end`)."""
        self._write(self.status)
        self._open(self.slot_end, 0)

    def close_run(self, ends: np.ndarray, energies: list[tuple[int, np.ndarray]]) -> None:
        """``close`` at every interval end of a constant span (the fast-forward), the energy of
        each of its spans added first as ``add`` would: ``energies`` pairs a channel with its
        energy in each span (float64 arrays), the spans ending at the meter times ``ends``.
        The first entry keeps the status of the entry in progress, the others have status 0
        (what ``close`` leaves).

        Each entry's count of a channel follows from the channel's running total at the
        entry's end (``_count``): the running totals of the run come from one cumulative sum
        in the loop's order of additions (``_running``), the counts from one rounding
        (``_count_run``); entries before the last CAPACITY are overwritten within the run, so
        only the kept ones are written, in one go (``RingStore.write_run``). A short run goes
        span by span instead, as the loop does (``_step_run``): numpy's cost per call is then
        more than the loop's."""
        if len(ends) <= _SHORT_RUN:
            self._step_run(ends, energies)
            return
        slot_end = self.slot_end
        closes = _closes(ends, slot_end)
        n = len(closes)
        total, counted = self.total, self.counted
        listed = dict(energies)
        first_kept = max(n - CAPACITY, 0)
        counts = np.zeros((n - first_kept, 6), dtype=np.uint32)
        for i in range(6):
            if i in listed:
                running = _running(total[i], listed[i])
                total[i] = float(running[-1])
                at_ends = running[closes]
            elif n and _count(total[i], counted[i]):  # a clipped count left over: it goes on
                at_ends = np.full(n, total[i])
            else:
                continue
            got, counted[i] = _count_run(at_ends, counted[i])
            counts[:, i] = got[first_kept:]
        if n:
            self.store.write_run(slot_end, first_kept, counts, self.status)
            self.slot_end = slot_end + n * INTERVAL_S
            self.status = 0

    def _step_run(self, ends: np.ndarray, energies: list[tuple[int, np.ndarray]]) -> None:
        """``close_run`` span by span: the loop's ``add`` and ``close``."""
        spans = [(i, e.tolist()) for i, e in energies]
        total = self.total
        for j, end in enumerate(ends.tolist()):
            for i, e in spans:
                total[i] += e[j]
            if end == self.slot_end:
                self.close()

    def mark(self, flag: int) -> None:
        self.status |= flag

    def power_down(self, meter_s: float, flag: int = POWER_DOWN) -> None:
        """Recording stops (power-down, or programming mode with ``flag`` PROGRAMMING)."""
        self.status |= flag
        self.powered = False

    def start_unpowered(self) -> None:
        """A new meter without supply: the first power-up opens a fresh (short) interval."""
        self.powered = False
        self._pending = False

    def power_up(self, meter_s: float, flag: int = POWER_DOWN) -> None:
        """Recording resumes (power-up, or the end of programming mode with ``flag``)."""
        if self.powered:
            return
        self.powered = True
        if self.slot_end - INTERVAL_S <= meter_s < self.slot_end and self._pending:
            # Back inside the same interval: it continues, flagged. (Not after a clock setting
            # meanwhile that left the slot, backward too: clock writes happen in programming
            # mode, when recording is stopped.)
            return
        lost = flag == POWER_DOWN and "load_profile_lost_at_power_down" in self.defects
        if self._pending and not lost:
            self._write(self.status)
        aligned = abs(meter_s / INTERVAL_S - round(meter_s / INTERVAL_S)) < 1e-9
        self._open(meter_s, (flag if self._pending else 0) | (0 if aligned else SHORT))
        self._pending = True

    def clock_set(self, old_meter_s: float, new_meter_s: float) -> None:
        same = (math.floor(old_meter_s / INTERVAL_S + 1e-9)
                == math.floor(new_meter_s / INTERVAL_S + 1e-9))
        if same or not self.powered:
            # Powered down: the pending entry keeps its slot; power-up decides what follows.
            self.status |= CLOCK_SET
            return
        self._write(self.status | CLOCK_SET | SHORT)
        self._open(new_meter_s, CLOCK_SET | SHORT)

    def select(self, t_from: float | None, t_to: float | None) -> list[Entry]:
        return [e for e in self.store.entries()
                if (t_from is None or e.meter_time >= t_from)
                and (t_to is None or e.meter_time <= t_to)]

    def snapshot(self) -> dict[str, Any]:
        return {"store": self.store.snapshot(), "powered": self.powered,
                "slot_end": self.slot_end, "status": self.status, "total": self.total,
                "counted": self.counted, "pending": self._pending}

    def restore(self, d: dict[str, Any]) -> None:
        self.store.restore(d["store"])
        self.powered = d["powered"]
        self.slot_end = d["slot_end"]
        self.status = d["status"]
        if "total" in d:
            self.total = [float(v) for v in d["total"]]
            self.counted = [int(v) for v in d["counted"]]
        else:
            # A snapshot of the carried-remainder booking: "cur" held the entry in progress
            # plus the remainder carried into it ("carry" is always empty between calls). As a
            # total with nothing counted yet, its entry counts what it counted then.
            self.total = [float(v) for v in d["cur"]]
            self.counted = [0] * 6
        self._pending = d["pending"]


_BOUND = re.compile(r"^\d?(\d{10})$")


def parse_bound(text: str, field: str) -> float | None:
    """YYMMDDhhmm (optionally with a leading season digit) -> meter seconds; '' -> open."""
    text = text.strip()
    if not text:
        return None
    m = _BOUND.match(text)
    if not m:
        raise LoadProfileError(f"P.01 {field} {text!r}: expected YYMMDDhhmm")
    from datetime import datetime

    try:
        when = datetime.strptime(m.group(1), "%y%m%d%H%M")
    except ValueError:
        raise LoadProfileError(f"P.01 {field} {text!r}: not a valid date/time") from None
    return meter_seconds_of(when)


def parse_range(args: tuple[str, ...]) -> tuple[float | None, float | None]:
    """Arguments of `P.01(from;to)`: one argument 'from;to' or two arguments."""
    parts = args[0].split(";") if len(args) == 1 else list(args)
    if len(parts) == 1:
        parts.append("")
    if len(parts) != 2:
        raise LoadProfileError(f"P.01 range {';'.join(args)!r}: expected (from;to)")
    lo, hi = parse_bound(parts[0], "from"), parse_bound(parts[1], "to")
    if lo is not None and hi is not None and hi < lo:
        raise LoadProfileError("P.01 range: 'to' is before 'from'")
    return lo, hi


def _ts(meter_s: float) -> str:
    return meter_datetime(meter_s).strftime("%y%m%d%H%M")


def format_readout(entries: list[Entry]) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    """Data sets of the P.01 reply as (address, ((value, unit), ...)) pairs."""
    out: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
    prev: Entry | None = None
    for e in entries:
        if (prev is None or e.status != 0 or prev.status != e.status
                or e.meter_time != prev.meter_time + INTERVAL_S):
            header: list[tuple[str, str | None]] = [
                (_ts(e.meter_time), None), (f"{e.status:02X}", None),
                (f"{INTERVAL_S // 60}", None), (f"{len(CHANNELS)}", None),
            ]
            for addr, unit in CHANNELS:
                header += [(addr, None), (unit, None)]
            out.append(("P.01", tuple(header)))
        out.append(("", tuple((f"{v:.4f}", None) for v in e.values)))
        prev = e
    return out


class LoadProfileComponent(ComponentBase):
    """Event-loop component (contracts 4) around `LoadProfile`."""

    name = "load_profile"

    def __init__(self, clock: MeterClock, start_time: float,
                 defects: frozenset[str] = frozenset()) -> None:
        self.clock = clock
        self.profile = LoadProfile(clock.meter_seconds(start_time), defects)
        self.powered = True
        self.programming = False  # volatile: not in the snapshot
        self._due = self._boundary_true()
        self._closed_at: float | None = None  # true time of the last close (fast-forward)

    def _boundary_true(self) -> float | None:
        b = self.profile.next_boundary
        return None if b is None else self.clock.true_time(b)

    def _catch_up(self, now: float) -> None:
        while self._due is not None and now >= self._due:
            self.profile.close()
            self._closed_at = self._due
            self._due = self._boundary_true()

    def start_unpowered(self) -> None:
        """A new meter without supply: the first interval opens at the first power-up."""
        self.profile.start_unpowered()
        self.powered = False
        self._due = None

    def mark_reset(self, now: float) -> None:
        self._catch_up(now)
        self.profile.mark(RESET)

    def next_event(self, now: float) -> float | None:
        return self._due

    def channels(self, flow: Any) -> tuple[float, ...]:
        """The energies of a flow the six channels record (CHANNELS order): the one booking of
        both the event loop and the fast-forward (what a channel mutant patches)."""
        return (flow.import_, flow.export, flow.q1, flow.q2, flow.q3, flow.q4)

    def accumulate(self, t0: float, t1: float, flow: Any) -> None:
        if self.programming:
            return  # not recorded in programming mode (module doc)
        c = self.channels(flow)
        total = self.profile.total
        total[0] += c[0]
        total[1] += c[1]
        total[2] += c[2]
        total[3] += c[3]
        total[4] += c[4]
        total[5] += c[5]

    def repeats(self, now: float, steady_since: float) -> Repeat | None:
        """Fast-forward from an interval end while recording (not powered down, not in
        programming mode)."""
        p = self.profile
        if not p.powered or self.programming or self._closed_at != now:
            return None
        return Repeat(float(p.slot_end - INTERVAL_S), INTERVAL_S, INTERVAL_S)

    def fast_forward(self, jump: Jump) -> None:
        """Book the jump's spans as the loop does: each span adds power x its hours to the
        running totals, in the loop's order (float sums depend on it), and every interval end
        writes an entry (``LoadProfile.close_run``). A channel without energy adds 0.0, which
        changes no sum: only the channels with a power are summed."""
        p = self.profile
        ends, hours = jump.ends, jump.hours
        k = int(np.searchsorted(ends, p.slot_end))  # the jump starts on an entry's start
        if k == len(ends) or ends[k] != p.slot_end:
            raise ValueError(f"load profile fast-forward: no span ends at {p.slot_end}")
        # numpy's products round as Python's: the energies of the loop's flows, power x hours.
        p.close_run(ends, [(i, r * hours) for i, r in enumerate(self.channels(jump.unit)) if r])
        self._closed_at = jump.t_end
        self._due = self._boundary_true()

    def on_event(self, now: float) -> None:
        self._catch_up(now)

    def on_inputs(self, now: float, m: Any) -> None:
        self._catch_up(now)

    def on_tariff(self, now: float, old: int, new: int) -> None:
        self._catch_up(now)

    def on_power(self, now: float, up: bool) -> None:
        self._catch_up(now)
        self.powered = up
        if up:
            if not self.programming:
                self.profile.power_up(self.clock.meter_seconds(now))
        else:
            self.profile.power_down(self.clock.meter_seconds(now))
        self._due = self._boundary_true()

    def on_clock_set(self, now: float, old_meter_s: float, new_meter_s: float) -> None:
        self._catch_up(now)
        self.profile.clock_set(old_meter_s, new_meter_s)
        self._due = self._boundary_true()

    def on_programming(self, now: float, active: bool) -> None:
        """Manual 2.1.1: recording stops in programming mode; it records only while powered and
        not programming."""
        self._catch_up(now)
        self.programming = active
        if self.powered:
            if active:
                self.profile.power_down(self.clock.meter_seconds(now), PROGRAMMING)
            else:
                self.profile.power_up(self.clock.meter_seconds(now), PROGRAMMING)
        self._due = self._boundary_true()

    def snapshot(self) -> dict[str, Any]:
        return self.profile.snapshot()

    def restore(self, d: dict[str, Any]) -> None:
        self.profile.restore(d)
        self.powered = self.profile.powered
        self._due = self._boundary_true()

    def readout(
        self, args: tuple[str, ...]
    ) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
        """R5/R6 `P.01(from;to)` (standards.md 6.3)."""
        lo, hi = parse_range(args)
        entries = self.profile.select(lo, hi)
        if not entries:
            raise LoadProfileError("P.01: no entries in range")
        return format_readout(entries)

    def obis_rows(self) -> list[ObisRow]:
        p = self.profile

        def read(_m: Any, args: tuple[str, ...]) -> list[DataSet]:
            try:
                sets = self.readout(args)
            except LoadProfileError as e:
                raise RegisterError("NO DATA" if "no entries" in str(e) else "BAD RANGE") from None
            return [DataSet(a, tuple(Value(v, u) for v, u in vals)) for a, vals in sets]

        return [
            ObisRow("P.01", "Load profile: R5/R6 P.01(from;to), YYMMDDhhmm", None,
                    "manual 1.6; standards.md 6.3, 6.5, 7.1", None, read_args=read),
            ObisRow("1-1:0.8.4", "Load profile recording interval", "min",
                    "manual 1.6 item 1; standards.md 7.1",
                    lambda _m: (f"{INTERVAL_S // 60}",)),
            ObisRow("C.52.0", "Load profile entries stored, capacity", None,
                    "manual 1.6 item 2 (manufacturer-specific)",
                    lambda _m: (f"{p.store.count}", f"{CAPACITY}")),
        ]


def make_load_profile(meter: Any) -> LoadProfileComponent:
    """Factory for the core's COMPONENT_FACTORIES. The load profile has no settings: interval
    (15 min) and channels are fixed by manual 1.6, so the `load_profile:` section must be empty."""
    extra = config_section(meter.config, "load_profile")
    if extra:
        raise LoadProfileError(
            f"load_profile configuration: unknown field(s) {sorted(extra)}; the A1000 load "
            "profile is fixed (manual 1.6: 15 min, six channels)"
        )
    comp = LoadProfileComponent(meter.clock, meter.now,
                                frozenset(defect_names(meter)) & set(DEFECTS))
    if not meter.powered:
        comp.start_unpowered()
    return comp
