"""The A1000 LCD (manual 1.3 items 5-6, 1.7, 2.1.1, 2.1.2): what a person reading the meter sees.

The display list holds display codes of manual 2.1.2 item 7 in the user's order, each with its
display time (1..99 s), the modes it is shown in (timing, sequential, inquiry) and, for
historical items, the range of records (0 = most recent .. 15 for billing records, .. 9 for
event occurrences). Display modes (manual 2.1.2 item 1):

* Timing display: at every clock-aligned multiple of the timing interval the timing items are
  shown once, each for its display time, then the display idles (date and time). When the
  sequence is longer than the interval, the boundary that falls inside it is skipped and the
  next sequence starts at the first boundary after its end. The manual offers four intervals
  and names 15 min; the four are taken as 5, 10, 15 and 30 min (our choice).
* Continuous display: the timing items repeat without pause. A manual (button) display
  interrupts it; it resumes from the first item as soon as the manual display ends.
* Sequential display: the display button starts it (from idle or during a timing display):
  the sequential items from the first, each for its display time, then back to automatic.
* Inquiry display: a press during the sequential display switches to the next inquiry item,
  shown 60 times its display time; every further press shows the next one (wrapping at the end).
  Without a press the item's time runs out and the sequential display continues with the item
  after it.
* In the programming state the LCD shows "PRG" and no timing display runs (manual 2.1.1).
  Powered down, the LCD is blank.

Indications (manual 2.1.2 item 3, 1.3 items 5-6, 1.7 item 2), on the indicator line:
`BAT` battery symbol (battery low), `LOCK` level-2 programming protection (seal closed and not in
the programming state), `RX`/`TX` for 1 s after a character was received/sent (`note_comm`),
`W>`/`W<` active direction arrow (import/export, shown with power flowing), `var>`/`var<` reactive
direction, `err1`/`err2` when a warning/error bit is set, `T1`..`T4` tariff in force. The display
codes `ERR1`/`ERR2` show the bits as Appendix B does ("0000 0101" for voltage loss plus over
voltage).

Bottom monitoring row (manual 1.7 item 2): phase voltages, currents and power factors (with the
total power factor) in turn, 5 s each (our choice). With a phase in voltage loss the row stays on
the voltages and the letter of the lost phase flashes (manual 1.3 item 5); with a phase current
above Imax (overload) it stays on the currents and "ABC" flashes (1.3 item 6). Flashing: shown
during the first half of each second, blank in the second half.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from meter.a1000.clock import MeterClock, lcd_stamp, meter_datetime
from meter.a1000.component import IDLE, ComponentBase, DisplayValue, Repeat, config_section
from meter.a1000.obis_rows import ObisRow, format_energy
from meter.a1000.registers import ZERO
from meter.iec62056_21.bank import RegisterError

MODES = ("timing", "sequential", "inquiry")
TIMING_INTERVALS_MIN = (5, 10, 15, 30)
INQUIRY_FACTOR = 60  # manual 2.1.2 item 1.3
MONITOR_STEP_S = 5  # bottom row: U, I, PF in turn
COMM_INDICATION_S = 1.0


class DisplayConfigError(ValueError):
    """Rejected display configuration (names the item and the reason)."""


# ---------------------------------------------------------------- the display codes

_ARROW = {1: "→", 2: "←", 3: "→", 4: "←", 5: "I ", 6: "II ", 7: "III ", 8: "IV ", 9: "→"}
_E_UNIT = {1: "kWh", 2: "kWh", 9: "kVAh"}
_D_UNIT = {1: "kW", 2: "kW", 9: "kVA"}
_ENERGY_Q = {1: ("import",), 2: ("export",), 3: ("q1", "q2"), 4: ("q3", "q4"), 5: ("q1",),
             6: ("q2",), 7: ("q3",), 8: ("q4",), 9: ("s_import", "s_export")}
_DEMAND_Q = {1: "import", 2: "export", 3: "r_import", 4: "r_export", 5: "q1", 6: "q2",
             7: "q3", 8: "q4", 9: "apparent"}
_ENERGY_CODE = re.compile(r"^([1-9])\.8\.([0-4])$")
_DEMAND_CODE = re.compile(r"^([1-9])\.([62])\.([0-4])(T?)$")

# Event display codes -> (events key prefix, what); phase letter appended for A/B/C codes.
_EVENT_CODES: dict[str, tuple[str, str]] = {
    "10": ("voltage_loss", "count_time"), "11": ("voltage_loss", "import"),
    "12": ("voltage_loss", "export"), "13": ("voltage_loss", "start"),
    "14": ("voltage_loss", "stop"), "20": ("phase_failure", "count_time"),
    "21": ("phase_failure", "import"), "22": ("phase_failure", "export"),
    "23": ("phase_failure", "start"), "24": ("phase_failure", "stop"),
    "30": ("over_current", "start"), "31": ("over_current", "stop"),
}
_EVENT_SINGLE: dict[str, tuple[str, str]] = {
    "190": ("all_phase_voltage_loss", "count_time"), "201": ("one_phase_failure", "count_time"),
    "202": ("two_phase_failure", "count_time"), "320": ("reverse_run", "start"),
    "330": ("reverse_run", "stop"), "340": ("power_down", "start"),
    "350": ("power_down", "stop"),
}
_SIMPLE = {
    "011L": "Meter NO. low", "011H": "Meter NO. high", "012L": "User NO. low",
    "012H": "User NO. high", "013L": "Device NO. low", "013H": "Device NO. high",
    "014L": "Bureau NO. low", "014H": "Bureau NO. high", "020": "Week", "Date": "Date",
    "Time": "Time", "imp/kWh": "Active constant", "imp/kvarh": "Reactive constant",
    "030": "Latest reset", "031": "Number of resets", "032": "Latest programming",
    "033": "Number of programming", "034": "Programmer NO.", "035": "Over current count",
    "036": "Reverse run count", "037": "Power down count", "038": "Power down time",
    "04AP": "04A", "04BP": "04B", "04CP": "04C", "040P": "040",
    "04AQ": "04A", "04BQ": "04B", "04CQ": "04C", "040Q": "040",
    "04AS": "04A", "04BS": "04B", "04CS": "04C", "040S": "040",
    "051P": "051", "052P": "052", "051Q": "051", "052Q": "052", "060": "060",
    "071": "071", "072": "072", "9001": "900 1", "9002": "900 2", "9003": "900 3",
    "9004": "900 4", "901": "901", "RD": "Reading Date", "DI": "Demand Time",
    "ERR1": "err 1", "ERR2": "err 2",
}


def code_kind(code: str) -> str | None:
    """'energy', 'demand', 'event', 'simple' or None for an unknown code."""
    if _ENERGY_CODE.match(code):
        return "energy"
    if _DEMAND_CODE.match(code):
        return "demand"
    if code in _EVENT_SINGLE or (code[:2] in _EVENT_CODES and code[2:] in ("A", "B", "C")):
        return "event"
    if code in _SIMPLE:
        return "simple"
    return None


def history_limit(code: str) -> int | None:
    """Number of records a historical item can show (None: not historical)."""
    if _ENERGY_CODE.match(code) or (_DEMAND_CODE.match(code)):
        return 16  # billing records, manual 1.5 item 3
    if code == "030":
        return 16  # last 16 demand resets, manual 2.1.2 item 2
    kind = code_kind(code)
    if kind == "event":
        what = (_EVENT_SINGLE.get(code) or _EVENT_CODES[code[:2]])[1]
        return 10 if what in ("start", "stop") else None
    return None


@dataclass(frozen=True)
class DisplayItem:
    code: str
    seconds: int = 8  # manual 2.1.2 item 1.1: 1..99 s
    modes: frozenset[str] = frozenset(MODES)
    records: tuple[int, int] | None = None  # historical: first..last record, 0 = most recent

    def __post_init__(self) -> None:
        if code_kind(self.code) is None:
            raise DisplayConfigError(f"display item {self.code!r}: unknown display code "
                                     "(manual 2.1.2 item 7)")
        if not isinstance(self.seconds, int) or not 1 <= self.seconds <= 99:
            raise DisplayConfigError(f"display item {self.code!r}: display time "
                                     f"{self.seconds!r} s must be 1..99 (manual 2.1.2 item 1)")
        bad = set(self.modes) - set(MODES)
        if bad or not self.modes:
            raise DisplayConfigError(f"display item {self.code!r}: modes must be a non-empty "
                                     f"subset of {MODES}")
        if self.records is not None:
            limit = history_limit(self.code)
            first, last = self.records
            if limit is None:
                raise DisplayConfigError(f"display item {self.code!r}: not a historical item")
            if not 0 <= first <= last < limit:
                raise DisplayConfigError(f"display item {self.code!r}: records {first}-{last} "
                                         f"must lie in 0..{limit - 1}")

    @classmethod
    def parse(cls, text: str) -> DisplayItem:
        """Compact form `CODE:seconds[:modes[:first-last]]`, modes letters T, S, I."""
        parts = text.strip().split(":")
        if not 1 <= len(parts) <= 4 or not parts[0]:
            raise DisplayConfigError(f"display item {text!r}: expected CODE:seconds:TSI:first-last")
        try:
            seconds = int(parts[1]) if len(parts) > 1 else 8
        except ValueError:
            raise DisplayConfigError(f"display item {text!r}: seconds must be a number") from None
        modes = frozenset(MODES)
        if len(parts) > 2:
            letters = {"T": "timing", "S": "sequential", "I": "inquiry"}
            if not parts[2] or set(parts[2].upper()) - set(letters):
                raise DisplayConfigError(f"display item {text!r}: modes are letters T, S, I")
            modes = frozenset(letters[c] for c in parts[2].upper())
        records = None
        if len(parts) > 3:
            m = re.fullmatch(r"(\d+)-(\d+)", parts[3])
            if not m:
                raise DisplayConfigError(f"display item {text!r}: records as first-last")
            records = (int(m.group(1)), int(m.group(2)))
        return cls(parts[0], seconds, modes, records)

    def encode(self) -> str:
        letters = "".join(c for c, m in (("T", "timing"), ("S", "sequential"), ("I", "inquiry"))
                          if m in self.modes)
        rec = f":{self.records[0]}-{self.records[1]}" if self.records else ""
        return f"{self.code}:{self.seconds}:{letters}{rec}"


DEFAULT_ITEMS = (
    "Date:5:TSI", "Time:5:TSI", "1.8.0:8:TSI", "1.8.1:8:SI", "1.8.2:8:SI", "1.8.3:8:SI",
    "1.8.4:8:SI", "2.8.0:8:TSI", "1.6.0:8:TSI", "1.6.0T:8:TSI", "1.2.0:8:SI",
    "1.8.0:8:I:0-15", "1.6.0:8:I:0-15", "030:8:I:0-15", "031:8:SI", "10A:8:SI", "10B:8:SI",
    "10C:8:SI", "037:8:SI", "038:8:SI",
)


@dataclass(frozen=True)
class DisplaySettings:
    items: tuple[DisplayItem, ...] = field(
        default_factory=lambda: tuple(DisplayItem.parse(t) for t in DEFAULT_ITEMS))
    timing_interval_min: int = 15
    continuous: bool = False

    def __post_init__(self) -> None:
        if self.timing_interval_min not in TIMING_INTERVALS_MIN:
            raise DisplayConfigError(f"timing display interval {self.timing_interval_min} min: "
                                     f"must be one of {TIMING_INTERVALS_MIN}")

    @classmethod
    def from_obj(cls, d: dict[str, Any]) -> DisplaySettings:
        extra = set(d) - {"items", "timing_interval_min", "continuous"}
        if extra:
            raise DisplayConfigError(f"display configuration: unknown field(s) {sorted(extra)}")
        kw: dict[str, Any] = {k: v for k, v in d.items() if k != "items"}
        if "items" in d:
            items = []
            for i, it in enumerate(d["items"]):
                try:
                    items.append(DisplayItem.parse(it) if isinstance(it, str) else DisplayItem(
                        it["code"], int(it.get("seconds", 8)),
                        frozenset(it.get("modes", MODES)),
                        tuple(it["records"]) if it.get("records") is not None else None))
                except (KeyError, TypeError) as e:
                    raise DisplayConfigError(f"display.items[{i}]: {e}") from None
                except DisplayConfigError as e:
                    raise DisplayConfigError(f"display.items[{i}]: {e}") from None
            kw["items"] = tuple(items)
        return cls(**kw)


@dataclass(frozen=True)
class Slot:
    """One screen of the list: an item and, for a historical item, its record."""

    index: int  # position in the expanded list
    item: DisplayItem
    record: int | None


def expand(items: tuple[DisplayItem, ...]) -> list[Slot]:
    out: list[Slot] = []
    for it in items:
        recs = range(it.records[0], it.records[1] + 1) if it.records else [None]
        for r in recs:
            out.append(Slot(len(out), it, r))
    return out


# ---------------------------------------------------------------- the screen


@dataclass(frozen=True)
class Screen:
    label: str
    value: str
    unit: str
    indicators: tuple[str, ...]
    bottom: str
    mode: str  # 'timing', 'continuous', 'sequential', 'inquiry', 'idle', 'prg', 'off'
    flashing: tuple[str, ...] = ()

    def text(self) -> str:
        """Four lines: item label, value with unit, indicators, bottom monitoring row."""
        if self.mode == "off":
            return "\n\n\n"
        value = f"{self.value} {self.unit}".rstrip()
        return "\n".join((self.label, value, " ".join(self.indicators), self.bottom))


class DisplayValues:
    """Values of the display codes read from a meter (duck-typed `A1000`)."""

    def __init__(self, meter: Any) -> None:
        self.m = meter
        self._items: dict[str, DisplayValue] | None = None

    def _comp(self, name: str) -> Any:
        try:
            return self.m.component(name)
        except KeyError:
            return None

    def label(self, slot: Slot) -> str:
        code, rec = slot.item.code, slot.record
        suffix = f" {rec} Num" if rec is not None else ""
        if m := _ENERGY_CODE.match(code):
            c, t = int(m.group(1)), int(m.group(2))
            return f"{_ARROW[c]}{t} Energy{suffix}"
        if m := _DEMAND_CODE.match(code):
            c, d, t, tm = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            sigma = "Σ" if d == "2" else ""
            return f"{_ARROW[c]}{t}{sigma} Demand{' Time' if tm else ''}{suffix}"
        if code in _SIMPLE:
            if code[:1].isalpha():
                return f"{_SIMPLE[code]}{suffix}"
            return f"{code} {_SIMPLE[code]}{suffix}"
        return f"{code}{suffix}"

    def value(self, slot: Slot) -> tuple[str, str]:
        code, rec = slot.item.code, slot.record
        m = self.m
        if mm := _ENERGY_CODE.match(code):
            c, t = int(mm.group(1)), int(mm.group(2))
            unit = _E_UNIT.get(c, "kvarh")
            if rec is None:
                total = sum((m.energy.value(q, t, m.now) for q in _ENERGY_Q[c]), ZERO)
                return format_energy(m, total), unit
            v = self._history(f"{c}.8.{t}", rec)
            return (v[0][0] if v else "--"), unit
        if mm := _DEMAND_CODE.match(code):
            c, d, t, tm = int(mm.group(1)), mm.group(2), int(mm.group(3)), mm.group(4)
            unit = _D_UNIT.get(c, "kvar")
            demand = self._comp("demand")
            if demand is None:
                return "--", unit
            if rec is not None:
                v = self._history(f"{c}.{d}.{t}", rec)
                if v is None:
                    return "--", "" if tm else unit
                if tm:
                    stamp = v[1][0] if len(v) > 1 else "0000000000"
                    return f"{stamp[2:4]}-{stamp[4:6]} {stamp[6:8]}:{stamp[8:10]}", ""
                return v[0][0], unit
            if d == "2":
                return f"{demand.cumulative(_DEMAND_Q[c], t):.4f}", unit
            mx = demand.maximum(_DEMAND_Q[c], t)
            if tm:
                return lcd_stamp(mx.meter_time, with_seconds=False), ""
            return f"{mx.value:.4f}", unit
        if code_kind(code) == "event":
            return self._event(code, rec)
        return self._simple(code, rec)

    def _history(self, base: str, rec: int) -> tuple[tuple[str, str | None], ...] | None:
        """Billing record ``rec`` (0 = latest) of ``base``; None where it holds no such value
        (a reading that stored no energy or reset no demand shows "--")."""
        billing = self._comp("billing")
        if billing is None:
            return None
        try:
            return billing.historical_value(base, 101 + rec)
        except RegisterError:
            return None

    def _event(self, code: str, rec: int | None) -> tuple[str, str]:
        events = self._comp("events")
        if code in _EVENT_SINGLE:
            key, what = _EVENT_SINGLE[code]
        else:
            prefix, what = _EVENT_CODES[code[:2]]
            key = f"{prefix}_{code[2]}"
        if events is None:
            return "--", ""
        log = events.log(key)
        if what == "count_time":
            minutes = int(log.duration(self.m.now) // 60)
            return f"{log.count}  {minutes}", "min"
        if what in ("import", "export"):
            v = log.energy_import if what == "import" else log.energy_export
            return f"{v:.2f}", "kWh"
        occ = log.latest(1 + (rec or 0))
        if occ is None:
            return "--", ""
        return lcd_stamp(occ[0] if what == "start" else occ[1]), ""

    def _simple(self, code: str, rec: int | None) -> tuple[str, str]:
        if self._items is None:
            # The meter's own items, then each component's (display codes of manual 2.1.2
            # item 7; a component shows what it keeps).
            self._items = core_display_items(self.m)
            for c in self.m.components:
                self._items.update(c.display_items())
        item = self._items.get(code)
        if item is not None:
            return item(self.m.now, rec)
        if code in _SIMPLE:  # a code of a component this model runs without
            return "--", _ABSENT_UNIT.get(code, "")
        raise DisplayConfigError(f"display code {code!r} has no value source")


_ABSENT_UNIT = {"DI": "min"}
_IDENTITY_CODES = {"011": "meter_number", "012": "user_number", "013": "device_number",
                   "014": "bureau_number"}
_POWER = {"P": ("p", "kW"), "Q": ("q", "kvar"), "S": ("s", "kVA")}


def core_display_items(m: Any) -> dict[str, DisplayValue]:
    """The display codes of what the meter itself keeps: identity, date and time, constants,
    programming, instantaneous values, TOU tables."""

    def identity(code: str, key: str) -> DisplayValue:
        def value(now: float, rec: int | None) -> tuple[str, str]:
            digits = m.identity[key]
            return (digits[-6:] if code[3] == "L" else digits[:6]), ""
        return value

    def power(phase: str, kind: str) -> DisplayValue:
        attr, unit = _POWER[kind]

        def value(now: float, rec: int | None) -> tuple[str, str]:
            meas = m.measurements
            v = getattr(meas, attr) if phase == "0" else getattr(meas.phases["ABC".index(phase)],
                                                                 attr)
            return f"{v / 1000:.4f}", unit
        return value

    def now_text(fmt: str) -> DisplayValue:
        return lambda now, rec: (meter_datetime(m.meter_seconds()).strftime(fmt), "")

    def profile(n: int) -> DisplayValue:
        return lambda now, rec: (" ".join(m.tou.encode_profile(n)) or "--", "")

    items: dict[str, DisplayValue] = {
        "020": lambda now, rec: (str(meter_datetime(m.meter_seconds()).isoweekday()), ""),
        "Date": now_text("%y-%m-%d"),
        "Time": now_text("%H:%M:%S"),
        "imp/kWh": lambda now, rec: (str(m.constants["active"]), "imp/kWh"),
        "imp/kvarh": lambda now, rec: (str(m.constants["reactive"]), "imp/kvarh"),
        "032": lambda now, rec: (lcd_stamp(m.programming.last_programmed_meter_s), ""),
        "033": lambda now, rec: (str(m.programming.count), ""),
        "034": lambda now, rec: (str(m.programming.programmer), ""),
        "060": lambda now, rec: (f"{m.measurements.frequency:.2f}", "Hz"),
        "901": lambda now, rec: (" ".join(m.tou.encode_seasons()) or "--", ""),
    }
    for number, key in _IDENTITY_CODES.items():
        for half in "LH":
            items[number + half] = identity(number + half, key)
    for phase in "ABC0":
        for kind in _POWER:
            items[f"04{phase}{kind}"] = power(phase, kind)
    for n in range(1, 5):
        items[f"900{n}"] = profile(n)
    return items


class Display:
    """The display state machine in meter time, evaluated lazily when the screen is read."""

    def __init__(self, settings: DisplaySettings, start_meter_s: float) -> None:
        self.configure(settings, start_meter_s)
        self.manual: dict[str, Any] | None = None

    def configure(self, settings: DisplaySettings, meter_s: float) -> None:
        self.settings = settings
        self.slots = expand(settings.items)
        self.timing = [s for s in self.slots if "timing" in s.item.modes]
        self.seq = [s for s in self.slots if "sequential" in s.item.modes]
        self.inq = [s for s in self.slots if "inquiry" in s.item.modes]
        self.anchor = meter_s
        self.manual = None

    # -- automatic display (a pure function of the time since the anchor) ------------------

    def _automatic(self, meter_s: float) -> tuple[Slot | None, str]:
        slots = self.timing
        if not slots:
            return None, "idle"
        total = float(sum(s.item.seconds for s in slots))
        if self.settings.continuous:
            pos = (meter_s - self.anchor) % total
            return _slot_at(slots, pos), "continuous"
        step = self.settings.timing_interval_min * 60.0
        first = math.ceil(self.anchor / step - 1e-9) * step
        if meter_s < first:
            return None, "idle"
        period = math.ceil(total / step - 1e-9) * step  # an overrun skips boundaries
        start = first + math.floor((meter_s - first) / period + 1e-12) * period
        pos = meter_s - start
        if pos < total:
            return _slot_at(slots, pos), "timing"
        return None, "idle"

    # -- manual display --------------------------------------------------------------------

    def _next_in(self, lst: list[Slot], after: int) -> Slot | None:
        for s in lst:
            if s.index > after:
                return s
        return None

    def _advance(self, meter_s: float) -> None:
        while self.manual is not None and self.manual["until"] <= meter_s:
            man = self.manual
            # Sequential: next item; an inquiry item that ran out: sequential continues after it.
            nxt = self._next_in(self.seq, man["slot"].index)
            if nxt is None:
                self.anchor = man["until"]  # automatic display resumes from here
                self.manual = None
            else:
                self.manual = {"kind": "sequential", "slot": nxt,
                               "until": man["until"] + nxt.item.seconds}

    def press(self, meter_s: float) -> None:
        """Display button (manual 2.1.2 item 1.2 and 1.3)."""
        self._advance(meter_s)
        man = self.manual
        if man is None:
            if self.seq:
                s = self.seq[0]
                self.manual = {"kind": "sequential", "slot": s, "until": meter_s + s.item.seconds}
            elif self.inq:
                self._inquiry(self.inq[0], meter_s)
            return
        nxt = self._next_in(self.inq, man["slot"].index) or (self.inq[0] if self.inq else None)
        if nxt is not None:
            self._inquiry(nxt, meter_s)

    def _inquiry(self, slot: Slot, meter_s: float) -> None:
        self.manual = {"kind": "inquiry", "slot": slot,
                       "until": meter_s + slot.item.seconds * INQUIRY_FACTOR}

    def current(self, meter_s: float) -> tuple[Slot | None, str]:
        self._advance(meter_s)
        if self.manual is not None:
            return self.manual["slot"], self.manual["kind"]
        return self._automatic(meter_s)

    def restart(self, meter_s: float) -> None:
        """Power-up or clock setting: manual display ends, the automatic schedule restarts."""
        self.manual = None
        self.anchor = meter_s


def _slot_at(slots: list[Slot], pos: float) -> Slot:
    acc = 0.0
    for s in slots:
        acc += s.item.seconds
        if pos < acc:
            return s
    return slots[-1]


class DisplayComponent(ComponentBase):
    """Event-loop component (contracts 4): needs no loop events, the screen is computed when
    read. `screen(t)` / `screen_text(t)` give what the LCD shows at true time t (>= meter.now)."""

    name = "display"

    def __init__(self, meter: Any, settings: DisplaySettings) -> None:
        self.meter = meter
        self.clock: MeterClock = meter.clock
        self.display = Display(settings, self.clock.meter_seconds(meter.now))
        self.values = DisplayValues(meter)
        self.last_rx = -math.inf
        self.last_tx = -math.inf

    # Component protocol: only power and clock matter.
    def next_event(self, now: float) -> float | None:
        return None

    def accumulate(self, t0: float, t1: float, flow: Any) -> None:
        return None

    def repeats(self, now: float, steady_since: float) -> Repeat | None:
        return IDLE  # shows values on request only

    def on_event(self, now: float) -> None:
        return None

    def on_inputs(self, now: float, m: Any) -> None:
        return None

    def on_tariff(self, now: float, old: int, new: int) -> None:
        return None

    def on_power(self, now: float, up: bool) -> None:
        if up:
            self.display.restart(self.clock.meter_seconds(now))

    def on_clock_set(self, now: float, old_meter_s: float, new_meter_s: float) -> None:
        self.display.restart(new_meter_s)

    def on_button(self, now: float, which: str) -> None:
        if which == "display" and self.meter.powered and not self.meter.in_programming():
            self.display.press(self.clock.meter_seconds(now))

    def note_comm(self, t: float, rx: bool) -> None:
        """The serial/optical port received (rx) or sent a character at true time t."""
        if rx:
            self.last_rx = t
        else:
            self.last_tx = t

    def configure(self, now: float, settings: DisplaySettings) -> None:
        self.display.configure(settings, self.clock.meter_seconds(now))

    def snapshot(self) -> dict[str, Any]:
        s = self.display.settings
        return {"items": [i.encode() for i in s.items], "interval": s.timing_interval_min,
                "continuous": s.continuous, "anchor": self.display.anchor}

    def restore(self, d: dict[str, Any]) -> None:
        settings = DisplaySettings(tuple(DisplayItem.parse(t) for t in d["items"]),
                                   d["interval"], d["continuous"])
        self.display.configure(settings, d["anchor"])

    # -- the screen --------------------------------------------------------------------------

    def screen(self, t: float | None = None) -> Screen:
        m = self.meter
        if t is not None and t > m.now:
            m.advance_to(t)
        t = m.now
        meter_s = self.clock.meter_seconds(t)
        if not m.powered:
            return Screen("", "", "", (), "", "off")
        blink_on = (meter_s % 1.0) < 0.5
        indicators = self._indicators(t)
        bottom, flashing = self._bottom(meter_s, blink_on)
        if m.in_programming():
            return Screen("PRG", "", "", indicators, bottom, "prg", flashing)
        slot, mode = self.display.current(meter_s)
        if slot is None:
            dt = meter_datetime(meter_s)
            return Screen("Date Time", dt.strftime("%y-%m-%d %H:%M"), "", indicators, bottom,
                          "idle", flashing)
        value, unit = self.values.value(slot)
        return Screen(self.values.label(slot), value, unit, indicators, bottom, mode, flashing)

    def screen_text(self, t: float | None = None) -> str:
        return self.screen(t).text()

    def _indicators(self, t: float) -> tuple[str, ...]:
        m = self.meter
        out = [f"T{m.tariff}"]
        meas = m.measurements
        if abs(meas.p) > 0:
            out.append("W>" if meas.p > 0 else "W<")
        if abs(meas.q) > 0:
            out.append("var>" if meas.q > 0 else "var<")
        if t - self.last_rx < COMM_INDICATION_S:
            out.append("RX")
        if t - self.last_tx < COMM_INDICATION_S:
            out.append("TX")
        if m.battery_low:
            out.append("BAT")
        if not m.programming.seal_open and not m.in_programming():
            out.append("LOCK")
        if m.err1:
            out.append("err1")
        if m.err2:
            out.append("err2")
        return tuple(out)

    def _bottom(self, meter_s: float, blink_on: bool) -> tuple[str, tuple[str, ...]]:
        m = self.meter
        meas = m.measurements
        u = meas.phase_voltages if any(meas.phase_voltages) else tuple(
            e.voltage for e in meas.phases)
        i = tuple(e.current for e in meas.phases)
        lost = ""
        try:
            ev = m.component("events")
            lost = "".join(p for p in "ABC" if ev.log(f"voltage_loss_{p}").active)
        except KeyError:
            pass
        overload = any(x > m.config.imax_a for x in i)

        def letter(p: str, flash: bool) -> str:
            return p if (not flash or blink_on) else " "

        if lost:
            row = " ".join(f"U{letter(p, p in lost)} {u[k]:.1f}" for k, p in enumerate("ABC"))
            return row, tuple(lost)
        if overload:
            row = " ".join(f"I{letter(p, True)} {i[k]:.3f}" for k, p in enumerate("ABC"))
            return row, ("ABC",)
        phase = int(meter_s // MONITOR_STEP_S) % 3
        if phase == 0:
            row = " ".join(f"U{p} {u[k]:.1f}" for k, p in enumerate("ABC"))
        elif phase == 1:
            row = " ".join(f"I{p} {i[k]:.3f}" for k, p in enumerate("ABC"))
        else:
            row = " ".join(f"{p}+Φ{meas.phases[k].pf:.2f}" for k, p in enumerate("ABC"))
            row += f" Φ{meas.pf:.2f}"
        return row, ()

    def obis_rows(self) -> list[ObisRow]:
        def put_list(m: Any, values: tuple[str, ...]) -> None:
            try:
                items = tuple(DisplayItem.parse(v) for v in values)
                settings = DisplaySettings(items, self.display.settings.timing_interval_min,
                                           self.display.settings.continuous)
            except DisplayConfigError:
                raise RegisterError("DISPLAY ITEM REJECTED") from None
            self.configure(m.now, settings)

        def put_mode(m: Any, values: tuple[str, ...]) -> None:
            if len(values) != 2 or values[1].upper() not in ("TIMING", "CONTINUOUS") \
                    or not values[0].isdigit():
                raise RegisterError("(interval)(TIMING|CONTINUOUS)")
            try:
                settings = DisplaySettings(self.display.settings.items, int(values[0]),
                                           values[1].upper() == "CONTINUOUS")
            except DisplayConfigError:
                raise RegisterError("INTERVAL 5 10 15 OR 30") from None
            self.configure(m.now, settings)

        src = "manual 2.1.2 item 2 (manufacturer-specific C.55)"
        return [
            ObisRow("C.55.0", "Display: timing interval (min), TIMING or CONTINUOUS; W1 sets",
                    None, src, lambda _m: (f"{self.display.settings.timing_interval_min}",
                                           "CONTINUOUS" if self.display.settings.continuous
                                           else "TIMING"), put_mode),
            ObisRow("C.55.1", "Display list: CODE:seconds:modes[:first-last] per value; W1 sets",
                    None, src, lambda _m: tuple(i.encode() for i in self.display.settings.items),
                    put_list),
        ]


def make_display(meter: Any) -> DisplayComponent:
    """Factory for the core's COMPONENT_FACTORIES: settings from the `display:` configuration
    section (items, timing_interval_min, continuous)."""
    return DisplayComponent(meter, DisplaySettings.from_obj(config_section(meter.config,
                                                                           "display")))

