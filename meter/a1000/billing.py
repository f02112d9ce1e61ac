"""Automatic meter reading (billing) and demand reset of the A1000 (manual 1.5, 3.2.2).

* Monthly at a day 1..28 and an hour set by the user (manual 1.5 items 1, 2), the meter freezes
  every energy register (each tariff) and every demand register into the history, then resets
  demand (manual 1.5 item 3). 16 records are kept (manual 1.5 item 3; 2.1.2 item 2).
* Every demand reset closes a billing period, whatever started it: the automatic reading, the
  reset button or the protocol (manual 3.2.2 "reset mode: manual, automatic, infrared, RS485").
  So the history also holds the last 16 demand resets with their date and time (manual 2.1.2
  item 2), and one counter counts them all.
* Reset modes (manual 3.2.2): manual = a short press of the reset button outside the programming
  state; automatic = the monthly reading; infrared and RS485 = E2 `0.1.0()` over IEC 62056-21
  after the P1 password, with no programming state (choice: the seal and the 8 s button hold of
  manual 2.2.1 guard parameter programming; a reset over RS485 is done from afar, where nobody can
  press a button, so the password is its guard). The model has one port standing for either
  interface (manual 1.8 items 2-3: both speak IEC 1107), so both count as `protocol` (C.51.3).
* Billing period counter VZ (standards.md 6.8): `0.1.0(nn)` is the counter, it counts 0..99 and
  wraps; `X*nn` is the value frozen at reset nn, `X*101` the most recent closed period ("previous
  month", A1000 Appendix A), `X*102` the one before, ... `X*116`. `0.1.2*nn` is the time stamp of
  reset nn (YYMMDDhhmm).
* Power-down over the reading time: the reading is done at power-up (time stamped with the
  power-up time), once, however many reading times the outage covered (the energy registers did
  not move meanwhile). Clock set forward over the reading time: the reading is done at the setting;
  clock set backward: the next reading time is the next one after the new clock reading.
* Monthly reading options (manual 1.5 items 1 and 3, display code 030 "Energy Demand"): energy
  storing and demand reset are each configurable (`store_energy`, `reset_demand`). Choice (the
  manual does not say): with storing alone the reading still closes a billing period (VZ + 1,
  energies frozen) but the maxima run on and no demand reset is counted; with the reset alone
  the period holds the frozen maxima and no energies (`*1nn` energies answer
  `(ENERGY NOT STORED)`); with neither the reading time passes without effect.
* Stored values equal the registers as they stood (manual 1.5 with 1.1 item 5): an energy is
  kept as the register showed it at the reading, truncated, with rollover, in the configured
  99999.99 or 999999.9 format, so `1.8.0*101` reads exactly what `1.8.0` read then.
* A meter without history (choice; the manual lists `*101` as always present, Appendix A):
  `F = 101..116` for a period not yet closed answers the value the register had then, which is
  the state at manufacture: energies zero in the register format, demand `0.0000` with the
  never-set stamp `0000000000`, reset time stamp `0000000000`, as `1.6.0` answers before its
  first maximum. IEC 62056-21 readouts of fixed lists carry every listed item; so readout and
  R1 give the same zeros. A VZ suffix (`*00..*99`) names one particular reset: one that never
  happened, or that has left the 16 kept, answers `(NO SUCH BILLING RECORD)`.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from meter.a1000.clock import MeterClock, lcd_stamp, meter_datetime, meter_seconds_of
from meter.a1000.component import (
    IDLE,
    ComponentBase,
    DisplayValue,
    Repeat,
    config_section,
    defect_names,
    register_defects,
)
from meter.a1000.demand import (
    OBIS_C,
    QUANTITIES,
    TARIFFS,
    UNITS,
    DemandRegisters,
    stamp_yymmddhhmm,
)
from meter.a1000.obis_rows import ObisRow, format_energy
from meter.a1000.registers import ZERO
from meter.iec62056_21.bank import DataSet, RegisterError, Value

HISTORY = 16  # manual 1.5 item 3
VZ_MODULO = 100  # standards.md 6.8: F = 0..99 billing-period counter
SOURCES = ("auto", "button", "protocol")

DEFECTS: dict[str, tuple[str, str]] = {
    "billing_skipped_in_power_down": (
        "no billing when the reading time falls in a power-down",
        "billing test (manual 1.5): a reading time inside a power-down gives a record at "
        "power-up",
    ),
}
register_defects(DEFECTS)


class BillingConfigError(ValueError):
    """Rejected reading-time settings; the previous settings stay."""


@dataclass(frozen=True)
class BillingSettings:
    day: int = 1  # manual 1.5 item 2: 1..28
    hour: int = 0
    store_energy: bool = True  # manual 1.5 items 1, 3; display code 030 "Energy"
    reset_demand: bool = True  # display code 030 "Demand"

    def __post_init__(self) -> None:
        if not isinstance(self.day, int) or not 1 <= self.day <= 28:
            raise BillingConfigError(
                f"reading day {self.day!r} rejected: must be 1..28 (A1000 manual 1.5 item 2)"
            )
        if not isinstance(self.hour, int) or not 0 <= self.hour <= 23:
            raise BillingConfigError(f"reading hour {self.hour!r} rejected: must be 0..23")
        for name in ("store_energy", "reset_demand"):
            if not isinstance(getattr(self, name), bool):
                raise BillingConfigError(f"{name} must be true or false")

    @property
    def options(self) -> str:
        """The options as W1/R1 `C.51.4` carries them: one digit each, energy then demand."""
        return f"{int(self.store_energy)}{int(self.reset_demand)}"


@dataclass
class BillingRecord:
    vz: int  # billing period counter value of this reset (standards.md 6.8)
    meter_time: float  # meter seconds of the reset
    source: str  # 'auto', 'button' or 'protocol'
    energies: dict[str, str]  # OBIS 'C.8.E' -> the register as shown ({} = not stored)
    maxima: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # 'C.6.E'
    cumulative: dict[str, float] = field(default_factory=dict)  # 'C.2.E' after the reset

    def to_json(self) -> dict[str, Any]:
        return {"vz": self.vz, "meter_time": self.meter_time, "source": self.source,
                "energies": self.energies, "maxima": self.maxima, "cumulative": self.cumulative}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BillingRecord:
        # State files from before the registers were kept as shown held floats.
        energies = {k: v if isinstance(v, str) else f"{v:.2f}" for k, v in d["energies"].items()}
        return cls(d["vz"], d["meter_time"], d["source"], energies,
                   {k: (v[0], v[1]) for k, v in d["maxima"].items()}, dict(d["cumulative"]))


def next_reading_time(settings: BillingSettings, meter_s: float) -> float:
    """Meter seconds of the first reading time strictly after `meter_s`."""
    now = meter_datetime(meter_s)
    cand = now.replace(day=settings.day, hour=settings.hour, minute=0, second=0, microsecond=0)
    if meter_seconds_of(cand) <= meter_s:
        y, m = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        cand = cand.replace(year=y, month=m)
    return meter_seconds_of(cand)


class BillingRegisters:
    """Pure billing logic: history, counters and the reading schedule (meter time)."""

    def __init__(
        self,
        settings: BillingSettings,
        demand: DemandRegisters | Callable[[], DemandRegisters],
        energy_zero: str = "00000.00",
    ) -> None:
        self.settings = settings
        self.energy_zero = energy_zero  # a zero register in the meter's format (no history)
        # The demand registers, or a function giving them (the core builds its components
        # one by one, so the billing factory binds late).
        self._demand = demand
        self.vz = 0
        self.reset_count = 0  # all resets since manufacture (display 031)
        self.by_source = dict.fromkeys(SOURCES, 0)
        self.history: deque[BillingRecord] = deque(maxlen=HISTORY)

    @property
    def demand(self) -> DemandRegisters:
        d = self._demand
        return d if isinstance(d, DemandRegisters) else d()

    def close_period(
        self, meter_s: float, source: str, energies: dict[str, str], reset_demand: bool = True
    ) -> BillingRecord:
        """Freeze energies (as the registers show them) and demand, then reset demand (manual
        1.5 item 3). ``energies`` {} stores none; ``reset_demand`` False freezes no demand."""
        if source not in SOURCES:
            raise ValueError(f"demand reset source {source!r}: must be one of {SOURCES}")
        d = self.demand
        maxima: dict[str, tuple[float, float | None]] = {}
        cumulative: dict[str, float] = {}
        if reset_demand:
            for i, q in enumerate(QUANTITIES):
                for t in range(TARIFFS + 1):
                    maxima[f"{OBIS_C[q]}.6.{t}"] = (d.maxima[t][i], d.max_times[t][i])
            d.reset()
            cumulative = {
                f"{OBIS_C[q]}.2.{t}": d.cumulative[t][i]
                for i, q in enumerate(QUANTITIES) for t in range(TARIFFS + 1)
            }
            self.reset_count += 1
        self.vz = (self.vz + 1) % VZ_MODULO
        self.by_source[source] += 1
        rec = BillingRecord(self.vz, meter_s, source, dict(energies), maxima, cumulative)
        self.history.append(rec)
        return rec

    def record(self, f: int) -> BillingRecord | None:
        """Record for billing suffix F: 101..116 = most recent .. 16th, 0..99 = by VZ."""
        if 101 <= f <= 100 + HISTORY:
            k = f - 100
            return self.history[-k] if k <= len(self.history) else None
        if 0 <= f < VZ_MODULO:
            for rec in reversed(self.history):
                if rec.vz == f:
                    return rec
        return None

    def historical_value(self, base: str, f: int) -> tuple[tuple[str, str | None], ...] | None:
        """Value of `base` (e.g. '1.8.1', '1.6.0', '1.2.0', '0.1.2') in record F, or None.

        F = 101..116 beyond the history answers the state at manufacture (module doc); a
        record that did not store the value raises RegisterError saying which part."""
        rec = self.record(f)
        if rec is None:
            if 101 <= f <= 100 + HISTORY:
                return self._never_closed(base)
            return None
        if base == "0.1.2":
            return ((stamp_yymmddhhmm(rec.meter_time), None),)
        kind = base.split(".")[1]
        if kind == "8":
            if not rec.energies:
                raise RegisterError("ENERGY NOT STORED")
            if base in rec.energies:
                return ((rec.energies[base], _energy_unit(base)),)
        elif kind in ("6", "2") and not rec.maxima:
            raise RegisterError("DEMAND NOT RESET")
        if base in rec.maxima:
            v, ts = rec.maxima[base]
            return ((f"{v:.4f}", _demand_unit(base)), (stamp_yymmddhhmm(ts), None))
        if base in rec.cumulative:
            return ((f"{rec.cumulative[base]:.4f}", _demand_unit(base)),)
        return None

    def _never_closed(self, base: str) -> tuple[tuple[str, str | None], ...] | None:
        kind = base.split(".")[1]
        if base == "0.1.2":
            return ((stamp_yymmddhhmm(None), None),)
        if kind == "8":
            return ((self.energy_zero, _energy_unit(base)),)
        if kind == "6":
            return ((f"{0.0:.4f}", _demand_unit(base)), (stamp_yymmddhhmm(None), None))
        if kind == "2":
            return ((f"{0.0:.4f}", _demand_unit(base)),)
        return None

    def snapshot(self) -> dict[str, Any]:
        st = self.settings
        return {"settings": [st.day, st.hour, st.store_energy, st.reset_demand], "vz": self.vz,
                "reset_count": self.reset_count, "by_source": self.by_source,
                "history": [r.to_json() for r in self.history]}

    def restore(self, d: dict[str, Any]) -> None:
        self.settings = BillingSettings(*d["settings"])
        self.vz = d["vz"]
        self.reset_count = d["reset_count"]
        self.by_source = dict(d["by_source"])
        self.history = deque((BillingRecord.from_json(r) for r in d["history"]), maxlen=HISTORY)


def _energy_unit(base: str) -> str:
    c = int(base.split(".")[0])
    return "kWh" if c in (1, 2) else "kVAh" if c in (9, 10) else "kvarh"


def _demand_unit(base: str) -> str:
    c = int(base.split(".")[0])
    for q, cq in OBIS_C.items():
        if cq == c:
            return UNITS[q]
    return "kW"


_HIST = re.compile(r"^(?P<base>\d+\.\d+\.\d+)\*(?P<f>\d{1,3})$")


def split_billing_suffix(address: str) -> tuple[str, int] | None:
    """'1-1:1.8.0*101' or '1.8.0*101' -> ('1.8.0', 101); None without a billing suffix."""
    short = address.split(":", 1)[1] if ":" in address else address
    m = _HIST.match(short)
    return (m["base"], int(m["f"])) if m else None


class BillingComponent(ComponentBase):
    """Event-loop component (contracts 4) for the monthly reading and the demand resets.

    `energies` returns the core's energy registers as OBIS 'C.8.E' -> value at the call.
    """

    name = "billing"

    def __init__(
        self,
        clock: MeterClock,
        settings: BillingSettings,
        demand: DemandRegisters | Callable[[], DemandRegisters],
        energies: Callable[[], dict[str, str]],
        start_time: float,
        defects: frozenset[str] = frozenset(),
        before_reset: Callable[[float], None] | None = None,
        energy_zero: str = "00000.00",
    ) -> None:
        self.clock = clock
        self.energies = energies
        self.registers = BillingRegisters(settings, demand, energy_zero)
        self.defects = frozenset(defects) & set(DEFECTS)
        self.powered = True
        self.programming = False  # volatile, like the meter's programming state
        # Called with the true time just before a reset, so the demand component can close the
        # sub-interval boundary due at the same instant first (event order independence).
        self.before_reset = before_reset
        self._due_meter = next_reading_time(settings, clock.meter_seconds(start_time))
        self._missed = False

    @property
    def next_reading_meter_s(self) -> float:
        return self._due_meter

    def configure(self, now: float, settings: BillingSettings) -> None:
        self.registers.settings = settings
        self._due_meter = next_reading_time(settings, self.clock.meter_seconds(now))

    def demand_reset(self, now: float, source: str) -> BillingRecord:
        """Reset by button or protocol, counted with date and time; energies are stored too
        (every demand reset closes a billing period, module doc)."""
        return self._close(now, source, store_energy=True, reset_demand=True)

    def _close(
        self, now: float, source: str, store_energy: bool, reset_demand: bool
    ) -> BillingRecord:
        if self.before_reset is not None:
            self.before_reset(now)
        energies = self.energies() if store_energy else {}
        return self.registers.close_period(
            self.clock.meter_seconds(now), source, energies, reset_demand
        )

    def automatic_reading(self, now: float) -> None:
        """The monthly reading with its options (manual 1.5 items 1, 3; display code 030)."""
        s = self.registers.settings
        if s.store_energy or s.reset_demand:
            self._close(now, "auto", s.store_energy, s.reset_demand)

    def _catch_up(self, now: float) -> None:
        if not self.powered or self.programming:
            return
        if self.clock.meter_seconds(now) >= self._due_meter - 1e-6:
            self.automatic_reading(now)
            self._due_meter = next_reading_time(
                self.registers.settings, max(self._due_meter, self.clock.meter_seconds(now))
            )

    # Component protocol
    def next_event(self, now: float) -> float | None:
        due = self.powered and not self.programming
        return self.clock.true_time(self._due_meter) if due else None

    def accumulate(self, t0: float, t1: float, flow: Any) -> None:
        return None

    def repeats(self, now: float, steady_since: float) -> Repeat | None:
        return IDLE  # no energy of its own; its next reading bounds a fast-forward

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
            self._read_missed(now, skip="billing_skipped_in_power_down" in self.defects)

    def on_programming(self, now: float, active: bool) -> None:
        """Manual 2.1.1: no billing in programming mode. Choice: a reading time passed in it is
        read once at its end (the rule of a power-down, so no billing period is lost)."""
        self._catch_up(now)
        self.programming = active
        if not active:
            self._read_missed(now)

    def _read_missed(self, now: float, skip: bool = False) -> None:
        """Back from a power-down or programming: a reading time passed meanwhile is read now,
        once, and the next one scheduled."""
        if not self.powered or self.programming:
            return
        meter_now = self.clock.meter_seconds(now)
        if meter_now >= self._due_meter:
            if not skip:
                self.automatic_reading(now)
            self._due_meter = next_reading_time(self.registers.settings, meter_now)

    def on_clock_set(self, now: float, old_meter_s: float, new_meter_s: float) -> None:
        if self.powered and new_meter_s >= self._due_meter > old_meter_s:
            self.automatic_reading(now)
        self._due_meter = next_reading_time(self.registers.settings, new_meter_s)

    def snapshot(self) -> dict[str, Any]:
        d = self.registers.snapshot()
        d["due_meter"] = self._due_meter
        d["powered"] = self.powered
        return d

    def restore(self, d: dict[str, Any]) -> None:
        self.registers.restore(d)
        self._due_meter = d["due_meter"]
        self.powered = d["powered"]

    def on_button(self, now: float, which: str) -> None:
        """The core's button hook: a short press of the reset button resets demand (manual 3.2.2
        "reset mode: manual")."""
        if which == "reset" and self.powered:
            self.demand_reset(now, "button")

    # OBIS rows
    def display_items(self) -> dict[str, DisplayValue]:
        """Latest resets, their count and the reading date (manual 2.1.2 item 7: 030, 031,
        and "030 Energy Demand" of 1.5 item 3 as RD)."""
        def latest_reset(now: float, rec: int | None) -> tuple[str, str]:
            hist = self.registers.history
            k = 1 + (rec or 0)
            return (lcd_stamp(hist[-k].meter_time) if k <= len(hist) else "--"), ""

        def reading_date(now: float, rec: int | None) -> tuple[str, str]:
            s = self.registers.settings
            # Manual display "030 Energy Demand": day, hour and the options that are on.
            flags = ["Energy"] * s.store_energy + ["Demand"] * s.reset_demand
            return f"{s.day:02d} {s.hour:02d}", " ".join(flags)

        return {
            "030": latest_reset,
            "031": lambda now, rec: (str(self.registers.reset_count), ""),
            "RD": reading_date,
        }

    def obis_rows(self) -> list[ObisRow]:
        """Counter and stamps (standards.md 6.8) and every billing value with F = 101..116."""
        r = self.registers
        src = "manual 1.5; standards.md 6.8, 7.1"

        def last_stamp(_m: Any) -> tuple[str, ...]:
            return (stamp_yymmddhhmm(r.history[-1].meter_time if r.history else None),)

        rows = [
            ObisRow("0.1.0", "Billing period (demand reset) counter VZ 00..99; E2 () resets "
                    "demand through the protocol (P1 password, no programming state)", None, src,
                    lambda _m: (f"{r.vz:02d}",), readout=True, run=self._run_reset,
                    remote=True),
            ObisRow("0.1.1", "Number of available billing periods", None, src,
                    lambda _m: (f"{len(r.history)}",)),
            ObisRow("0.1.2", "Time stamp of the most recent demand reset YYMMDDhhmm", None, src,
                    last_stamp, readout=True),
            ObisRow("C.51.0", "Cumulative number of demand resets", None,
                    "manual code 031 (manufacturer-specific C.51)",
                    lambda _m: (f"{r.reset_count}",), readout=True),
            ObisRow("C.51.1", "Automatic readings", None, "manual 1.5 (manufacturer-specific)",
                    lambda _m: (f"{r.by_source['auto']}",)),
            ObisRow("C.51.2", "Demand resets by button", None,
                    "manual 3.2.2 (manufacturer-specific)",
                    lambda _m: (f"{r.by_source['button']}",)),
            ObisRow("C.51.3", "Demand resets through the protocol", None,
                    "manual 3.2.2 (manufacturer-specific)",
                    lambda _m: (f"{r.by_source['protocol']}",)),
            ObisRow("1-1:0.8.6", "Reading day and hour DDhh; W1 sets it", None,
                    "manual 1.5 item 2, display 'Reading Date'; standards.md 7.1",
                    lambda _m: (f"{r.settings.day:02d}{r.settings.hour:02d}",),
                    self._put_reading_time, readout=True),
            ObisRow("C.51.4", "Monthly reading options: energy storing, demand reset (1 on, "
                    "0 off, e.g. 11); W1 sets them", None,
                    "manual 1.5 items 1, 3, display code 030 (manufacturer-specific)",
                    lambda _m: (r.settings.options,), self._put_options, readout=True),
        ]
        # The history rows are the same for every meter (their getters find the billing
        # component through the meter they are given): built once, shared by all.
        return rows + list(_history_rows())

    def historical_value(self, base: str, f: int) -> tuple[tuple[str, str | None], ...] | None:
        """Billing record F = 101.. (1st, 2nd... last) of `base` as stored (value, time stamp
        or None); None where the record holds no such value."""
        return self.registers.historical_value(base, f)

    def history_value(self, base: str, f: int) -> tuple[str, ...]:
        """The texts an R1 of `base*f` answers; RegisterError where there is no such value."""
        v = self.registers.historical_value(base, f)
        if v is None:
            raise RegisterError("NO SUCH BILLING RECORD")
        return tuple(text for text, _ in v)

    def _run_reset(self, meter: Any, values: tuple[str, ...]) -> list[DataSet]:
        rec = self.demand_reset(meter.now, "protocol")
        return [DataSet("0.1.0", (Value(f"{rec.vz:02d}"),))]

    def _put_reading_time(self, meter: Any, values: tuple[str, ...]) -> None:
        if len(values) != 1 or not re.fullmatch(r"\d{4}", values[0].strip()):
            raise RegisterError("reading time: DDhh expected")
        v = values[0].strip()
        try:
            settings = replace(self.registers.settings, day=int(v[:2]), hour=int(v[2:]))
        except BillingConfigError:
            raise RegisterError("READING DAY 1..28 HOUR 0..23") from None
        self.configure(meter.now, settings)

    def _put_options(self, meter: Any, values: tuple[str, ...]) -> None:
        if len(values) != 1 or not re.fullmatch(r"[01]{2}", values[0].strip()):
            raise RegisterError("options: 2 digits 0 or 1")
        v = values[0].strip()
        settings = replace(self.registers.settings, store_energy=v[0] == "1",
                           reset_demand=v[1] == "1")
        self.configure(meter.now, settings)


@functools.cache
def _history_rows() -> tuple[ObisRow, ...]:
    """Billing rows of every reset VZ and record F = 101..116 (the same for every meter)."""
    src = "manual 1.5; standards.md 6.8, 7.1"

    def hist(base: str, f: int) -> Callable[[Any], tuple[str, ...]]:
        return lambda m: m.component("billing").history_value(base, f)

    rows = [ObisRow(f"0.1.2*{vz:02d}", f"Time stamp of demand reset {vz:02d}", None, src,
                    hist("0.1.2", vz)) for vz in range(VZ_MODULO)]
    bases: list[tuple[str, str, str | None]] = [
        (f"1-1:{c}.8.{t}", f"energy C={c} T{t}", _energy_unit(f"{c}.8.{t}"))
        for c in range(1, 11) for t in range(TARIFFS + 1)
    ]
    bases += [(f"1-1:{OBIS_C[q]}.{d}.{t}", f"demand {q} D={d} T{t}", UNITS[q])
              for d in (6, 2) for q in QUANTITIES for t in range(TARIFFS + 1)]
    # In the readout (*101 only): Appendix A energies and the historical active demand of
    # the display list (manual 2.1.2 item 7).
    appendix_a = {f"1-1:{c}.8.{t}" for c in (1, 2, 5, 6, 7, 8) for t in range(TARIFFS + 1)}
    appendix_a |= {f"1-1:{c}.6.{t}" for c in (1, 2) for t in range(TARIFFS + 1)}
    for n in range(1, HISTORY + 1):
        f = 100 + n
        rows.append(ObisRow(f"0.1.2*{f}", f"Time stamp of the {n}. last demand reset", None,
                            src, hist("0.1.2", f)))
        for addr, what, unit in bases:
            rows.append(ObisRow(
                f"{addr}*{f}", f"Billing record {n} (F={f}): {what}", unit,
                "manual 1.5, Appendix A *101; standards.md 6.8",
                hist(addr.split(":", 1)[1], f),
                readout=(n == 1 and addr in appendix_a)))
    return tuple(rows)


def make_billing(meter: Any) -> BillingComponent:
    """Factory for the core's COMPONENT_FACTORIES (after demand and load profile): settings
    from the `billing:` configuration section (day, hour), default day 1 at 00:00."""
    cfg = config_section(meter.config, "billing")
    try:
        settings = BillingSettings(**cfg)
    except TypeError as e:
        raise BillingConfigError(f"billing configuration: {e}") from None
    energy_names = {1: ("import",), 2: ("export",), 3: ("q1", "q2"), 4: ("q3", "q4"),
                    5: ("q1",), 6: ("q2",), 7: ("q3",), 8: ("q4",), 9: ("s_import",),
                    10: ("s_export",)}

    def energies() -> dict[str, str]:
        # As the registers show them (truncated, rollover, format): what 1-1:C.8.E reads now.
        return {f"{c}.8.{t}": format_energy(
                    meter, sum((meter.energy.value(q, t, meter.now) for q in names), ZERO))
                for c, names in energy_names.items() for t in range(TARIFFS + 1)}

    def before_reset(now: float) -> None:
        meter.component("demand").on_event(now)  # close a boundary due at this instant first
        for c in meter.components:
            if c.name == "load_profile":
                c.mark_reset(now)

    comp = BillingComponent(meter.clock, settings, lambda: meter.component("demand").registers,
                            energies, meter.now,
                            frozenset(defect_names(meter)) & set(DEFECTS), before_reset,
                            energy_zero=format_energy(meter, ZERO))
    comp.powered = meter.powered  # a new meter without supply reads at its first power-up
    return comp
