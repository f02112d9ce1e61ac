"""Maximum demand of the A1000 (manual sections 1.2, 1.3 and 3.2.2).

Two layers:

* `DemandRegisters` is the pure logic. It works in *meter seconds* (the meter's own clock reading,
  seconds since 1970-01-01 00:00 local, see contracts 2) and takes explicit calls: energy of a span,
  sub-interval ends, tariff changes, power-down/up, clock setting, demand reset.
* `DemandComponent` plugs it into the core's event loop (contracts 4): it converts true time to
  meter time and tells the loop the true time of the next clock-aligned boundary.

Computation (standards.md 3.3; A1000 manual 1.2 and 1.3):

* Energy is collected in *sub-intervals* of `window_min` minutes (1, 2, 3 or 5), aligned to the
  meter clock. In rolling mode the window is the rolling interval; in block mode it is the
  "time of power calculation" of manual 1.3 item 3, which the A1000 needs for the average-power
  display even in block mode.
* Rolling mode: at every sub-interval end, demand = energy of the last n sub-intervals / cycle,
  n = cycle / window. Block mode: at every clock-aligned cycle end, demand = energy of the block /
  cycle. The divisor is always the nominal cycle, so a shortened interval never overstates demand.
* The highest demand since the last reset is kept per quantity and per tariff (0 = total, 1..4)
  with the meter time of the end of the interval that produced it (manual 1.2 item 1: month, day,
  hour, minute). Values are limited to the register range 0..99.9999 (manual 1.2 item 1, 3.2.2).
* Tariff change (manual 1.2 item 4): total demand is unaffected. For tariff demand the window of
  the new tariff restarts from zero and the sub-interval in progress at the change is skipped
  (counts as zero), so total demand can exceed every tariff demand.
* Power-down: the sub-interval (and in block mode the block) in progress ends at the power-down
  moment and is evaluated with the nominal divisor; the window restarts from zero at power-up and
  the first sub-interval after power-up is shortened so that it ends on the next aligned boundary
  (standards.md 3.3: "after power-up ... the first interval is shortened to re-synchronise").
* Clock setting: if old and new reading fall in the same sub-interval slot nothing is closed (the
  sub-interval is merely shortened or lengthened). Otherwise the sub-interval in progress ends at
  the setting (old clock time stamp), in block mode the block ends with it, the rolling window is
  kept, and the next sub-interval runs to the next aligned boundary of the new clock reading.
* Demand reset: every maximum is added to its cumulative register (OBIS D = 2), then cleared.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from meter.a1000.clock import MeterClock, meter_datetime
from meter.a1000.component import (
    ComponentBase,
    DisplayValue,
    Jump,
    Repeat,
    config_section,
    defect_names,
    register_defects,
)
from meter.a1000.config import MAX_SWITCH_DELAY_S
from meter.a1000.obis_rows import ObisRow
from meter.electrical import add_up
from meter.iec62056_21.bank import RegisterError, Value

# Quantities with demand registers, in vector order. OBIS value group C for each (standards.md 7):
# 1 A+ import, 2 A- export, 3 R+ (Q1+Q2), 4 R- (Q3+Q4), 5..8 Q1..Q4, 9 apparent.
QUANTITIES: tuple[str, ...] = (
    "import", "export", "r_import", "r_export", "q1", "q2", "q3", "q4", "apparent",
)
OBIS_C: dict[str, int] = {
    "import": 1, "export": 2, "r_import": 3, "r_export": 4,
    "q1": 5, "q2": 6, "q3": 7, "q4": 8, "apparent": 9,
}
UNITS: dict[str, str] = {
    "import": "kW", "export": "kW", "r_import": "kvar", "r_export": "kvar",
    "q1": "kvar", "q2": "kvar", "q3": "kvar", "q4": "kvar", "apparent": "kVA",
}
NQ = len(QUANTITIES)
TARIFFS = 4  # A1000 manual 1.1 item 4: 4 tariffs and total.

DEMAND_MAX = 99.9999  # A1000 manual 1.2 item 1 and 3.2.2: recording range 0..99.9999 kW/kvar.
# Equal demand: far below the register's 0.0001 kW, above the float noise of one constant load.
# Interval ends are true times near 1.8e9 s, whose float spacing is 2.4e-7 s: two 15-min blocks
# of one load differ by up to ~5e-10 of their value (5e-8 kW at the 99.9999 kW top), so a
# tolerance of 1e-9 kW let a later block of the same load take the maximum's stamp.
_EQUAL_KW = 1e-6
CYCLES_MIN = (5, 10, 15, 30, 60)  # manual 1.2 item 2, 3.2.2
WINDOWS_MIN = (1, 2, 3, 5)  # manual 1.2 item 2, 1.3 item 3
WINDOWS_FOR_60 = (2, 3, 5)  # manual 1.2 item 2: a 60 min cycle allows only 2, 3 or 5 min


# Named defects for plan validation: name -> (effect, test that must catch it).
DEFECTS: dict[str, tuple[str, str]] = {
    "demand_window_misaligned": (
        "demand sub-intervals counted from power-up or setting, not aligned to the clock",
        "maximum demand test (manual 1.2 item 2; standards.md 3.3): time stamp of the maximum "
        "of a step load is not on a clock-aligned boundary",
    ),
    "demand_rolling_interval_ignored": (
        "rolling mode computes demand only at the ends of whole cycles (like block mode)",
        "rolling demand test (manual 1.2 item 2): the demand of a step is not updated at "
        "every rolling interval",
    ),
}
register_defects(DEFECTS)


class DemandConfigError(ValueError):
    """Rejected demand settings; the previous settings stay in force."""


@dataclass(frozen=True)
class DemandSettings:
    """Demand parameters. `window_min` is the rolling interval (rolling mode) or the power
    calculation time (block mode); the same rules apply to both (manual 1.2 item 2, 1.3 item 3)."""

    mode: str = "block"  # "block" or "rolling"
    cycle_min: int = 15
    window_min: int = 5

    def __post_init__(self) -> None:
        if self.mode not in ("block", "rolling"):
            raise DemandConfigError(
                f"demand mode {self.mode!r} rejected: must be 'block' or 'rolling' "
                "(manual 1.2 item 2)"
            )
        if self.cycle_min not in CYCLES_MIN:
            raise DemandConfigError(
                f"demand cycle {self.cycle_min} min rejected: must be one of {CYCLES_MIN} "
                "(manual 1.2 item 2)"
            )
        if self.window_min not in WINDOWS_MIN:
            raise DemandConfigError(
                f"rolling interval {self.window_min} min rejected: must be one of {WINDOWS_MIN} "
                "(manual 1.2 item 2)"
            )
        if self.cycle_min == 60 and self.window_min not in WINDOWS_FOR_60:
            raise DemandConfigError(
                f"rolling interval {self.window_min} min rejected with a 60 min cycle: must be one "
                f"of {WINDOWS_FOR_60} (manual 1.2 item 2)"
            )
        if self.cycle_min % self.window_min:
            raise DemandConfigError(
                f"demand cycle {self.cycle_min} min is not an integer multiple of the rolling "
                f"interval {self.window_min} min (manual 1.2 item 2)"
            )

    @property
    def n_windows(self) -> int:
        return self.cycle_min // self.window_min


@dataclass(frozen=True)
class MaxDemand:
    value: float  # kW / kvar / kVA
    meter_time: float | None  # meter seconds of the end of the interval; None = never set


def stamp_yymmddhhmm(meter_s: float | None) -> str:
    """Time stamp as used in demand readouts, `1.6.1(27.19*kW)(1702090945)` (standards.md 3.3)."""
    if meter_s is None:
        return "0000000000"
    return meter_datetime(meter_s + 1e-6).strftime("%y%m%d%H%M")


def power_factor(active_kwh: float, reactive_kvarh: float) -> float:
    """Average power factor of an interval from its energies (manual 1.3 item 4); 1.0 without
    energy."""
    s = math.hypot(active_kwh, reactive_kvarh)
    return 1.0 if s <= 0.0 else abs(active_kwh) / s


class DemandRegisters:
    """Pure demand logic in meter time. Energy vectors follow `QUANTITIES` (kWh, kvarh, kVAh)."""

    def __init__(
        self,
        settings: DemandSettings,
        start_meter_s: float,
        tariff: int = 1,
        defects: frozenset[str] = frozenset(),
    ) -> None:
        unknown = set(defects) - set(DEFECTS)
        if unknown:
            raise ValueError(
                f"unknown demand defect(s) {sorted(unknown)}; known: {sorted(DEFECTS)}"
            )
        self.defects = frozenset(defects)
        self.settings = settings
        self.tariff = tariff
        self.powered = True
        self.maxima: list[list[float]] = [[0.0] * NQ for _ in range(TARIFFS + 1)]
        self.max_times: list[list[float | None]] = [[None] * NQ for _ in range(TARIFFS + 1)]
        self.cumulative: list[list[float]] = [[0.0] * NQ for _ in range(TARIFFS + 1)]
        # Last evaluated demand per tariff (OBIS D = 5), last sub-interval energy (for 051/071).
        self.last_average: list[list[float]] = [[0.0] * NQ for _ in range(TARIFFS + 1)]
        self.last_window: list[float] = [0.0] * NQ
        self.last_cycle: list[float] = [0.0] * NQ
        self._start_window(start_meter_s)
        self._total_ring: deque[list[float]] = deque(maxlen=settings.n_windows)
        self._tariff_ring: deque[list[float]] = deque(maxlen=settings.n_windows)

    # -- configuration -------------------------------------------------------------------------

    def configure(self, settings: DemandSettings, meter_s: float) -> None:
        """New settings take effect at once: the window restarts and re-aligns (standards.md 3.3:
        after a parameter change the first interval is shortened)."""
        self.settings = settings
        self._total_ring = deque(maxlen=settings.n_windows)
        self._tariff_ring = deque(maxlen=settings.n_windows)
        self._start_window(meter_s)

    # -- time structure ------------------------------------------------------------------------

    @property
    def window_s(self) -> float:
        return self.settings.window_min * 60.0

    @property
    def cycle_s(self) -> float:
        return self.settings.cycle_min * 60.0

    @property
    def _rolling(self) -> bool:
        ignored = "demand_rolling_interval_ignored" in self.defects
        return self.settings.mode == "rolling" and not ignored

    def _start_window(self, meter_s: float) -> None:
        w = self.settings.window_min * 60.0
        self.window_start = meter_s
        if "demand_window_misaligned" in self.defects:
            self.window_end = meter_s + w  # defect: counts from power-up instead of the clock
        else:
            self.window_end = (math.floor(meter_s / w + 1e-9) + 1) * w
        self._cur = [0.0] * NQ
        self._cur_valid_for_tariff = True

    @property
    def next_boundary(self) -> float | None:
        """Meter time of the end of the sub-interval in progress (None while powered down)."""
        return self.window_end if self.powered else None

    # -- inputs ----------------------------------------------------------------------------------

    def add_energy(self, energy: list[float]) -> None:
        cur = self._cur
        for i in range(NQ):
            cur[i] += energy[i]

    def close_window(self, meter_s: float) -> None:
        """End of the sub-interval in progress at `meter_s` (normally `next_boundary`)."""
        cur = self._cur
        self._total_ring.append(cur)
        self._tariff_ring.append(cur if self._cur_valid_for_tariff else [0.0] * NQ)
        self.last_window = cur
        if "demand_window_misaligned" in self.defects:
            cycle_end = len(self._total_ring) == self.settings.n_windows
        else:
            k = meter_s / (self.settings.cycle_min * 60.0)
            cycle_end = abs(k - round(k)) < 1e-9
        if self._rolling or cycle_end:
            self._evaluate(meter_s)
        self._start_window(meter_s)

    def _evaluate(self, meter_s: float) -> None:
        inv_h = 60.0 / self.settings.cycle_min
        ring, tring = self._total_ring, self._tariff_ring
        sums = [add_up(col) for col in zip(*ring, strict=True)]
        self.last_cycle = sums
        total = self._record(0, [e * inv_h for e in sums], meter_s)
        # Both rings hold the same list objects unless a tariff change happened within the
        # window (the skipped sub-interval is a separate zero list), so this test is exact.
        if len(tring) == len(ring) and (not ring or tring[0] is ring[0]):
            self._record(self.tariff, total, meter_s)
        else:
            tsums = [add_up(col) for col in zip(*tring, strict=True)] if tring else [0.0] * NQ
            self._record(self.tariff, [e * inv_h for e in tsums], meter_s)
        if not self._rolling:
            ring.clear()
            tring.clear()

    def _record(self, tariff: int, demand: list[float], meter_s: float) -> list[float]:
        """Clip to the register range, keep as last average, update the maxima; returns the
        clipped values."""
        mx, mt = self.maxima[tariff], self.max_times[tariff]
        last = self.last_average[tariff]
        for i in range(NQ):
            d = demand[i]
            if d > DEMAND_MAX:
                d = DEMAND_MAX
            elif d < 0.0:
                d = 0.0
            last[i] = d
            # Equal demand keeps the first time stamp: spans split at other events (a tariff
            # switch) sum the same energy with float noise of ~1e-15 kW.
            if d > mx[i] + _EQUAL_KW:
                mx[i] = d
                mt[i] = meter_s
        return last

    def change_tariff(self, new: int, meter_s: float) -> None:
        """Manual 1.2 item 4: tariff window restarts from zero, sub-interval in progress skipped
        (a change within the switch delay of a sub-interval start is on that boundary).

        Manual 3.2.4: the time block switch lags its boundary by less than 0.1 s, so a change
        that soon after a sub-interval start belongs to the boundary: the sub-interval begun
        there is the new tariff's first, not one "in progress at the change". Otherwise the
        healthy 20 ms delay would drop the new tariff's first sub-interval whole."""
        if new == self.tariff:
            return
        self.tariff = new
        self._tariff_ring.clear()
        if meter_s > self.window_start + MAX_SWITCH_DELAY_S:
            self._cur_valid_for_tariff = False

    def power_down(self, meter_s: float) -> None:
        if not self.powered:
            return
        self.close_window_early(meter_s)
        self._total_ring.clear()
        self._tariff_ring.clear()
        self.powered = False

    def power_up(self, meter_s: float) -> None:
        if self.powered:
            return
        self.powered = True
        self._start_window(meter_s)

    def close_window_early(self, meter_s: float) -> None:
        """Shortened end of the sub-interval (and in block mode of the block) in progress."""
        cur = self._cur
        self._total_ring.append(cur)
        self._tariff_ring.append(cur if self._cur_valid_for_tariff else [0.0] * NQ)
        self.last_window = cur
        self._evaluate(meter_s)
        self._start_window(meter_s)

    def clock_set(self, old_meter_s: float, new_meter_s: float) -> None:
        if not self.powered:
            return
        w = self.window_s
        if math.floor(old_meter_s / w + 1e-9) == math.floor(new_meter_s / w + 1e-9):
            # Same slot: the sub-interval in progress is just shortened or lengthened.
            self.window_start += new_meter_s - old_meter_s
            return
        self.close_window_early(old_meter_s)
        self._start_window(new_meter_s)

    def repeats(self) -> Repeat | None:
        """Fast-forward (DemandComponent.repeats) from the sub-interval start where this stands:
        its boundaries, while no defect acts, powered, and the sub-interval in progress counts
        for its tariff."""
        if self.defects or not self.powered or not self._cur_valid_for_tariff:
            return None
        step = int(self.window_s)
        return Repeat(self.window_start, step, step if self._rolling else int(self.cycle_s))

    def settled(self, steady_since_meter_s: float) -> bool:
        """Was the last cycle all under the flow constant since ``steady_since_meter_s`` (one
        sub-interval of margin), and its demand no more than the maxima? Then every later block
        of that flow leaves the maxima and their stamps as they are (DemandComponent)."""
        if steady_since_meter_s > self.window_start - self.cycle_s - self.window_s:
            return False
        for row in (0, self.tariff):
            mx, last = self.maxima[row], self.last_average[row]
            if any(last[i] > mx[i] + _EQUAL_KW / 2 for i in range(NQ)):
                return False
        return True

    def jump_to(self, meter_s: float) -> None:
        """Land a fast-forward on the sub-interval end ``meter_s`` (DemandComponent)."""
        self._start_window(meter_s)

    def reset(self) -> None:
        """Demand reset: maxima added to the cumulative registers, then cleared (standards.md
        3.3)."""
        for t in range(TARIFFS + 1):
            for i in range(NQ):
                self.cumulative[t][i] += self.maxima[t][i]
                self.maxima[t][i] = 0.0
                self.max_times[t][i] = None

    # -- readings --------------------------------------------------------------------------------

    def maximum(self, quantity: str, tariff: int = 0) -> MaxDemand:
        i = QUANTITIES.index(quantity)
        return MaxDemand(self.maxima[tariff][i], self.max_times[tariff][i])

    def rising(self, quantity: str, tariff: int = 0) -> float:
        """Current average (OBIS D = 4): energy of the demand period in progress / nominal cycle."""
        i = QUANTITIES.index(quantity)
        if tariff not in (0, self.tariff):
            return 0.0
        ring = self._total_ring if tariff == 0 else self._tariff_ring
        n_keep = self.settings.n_windows - 1 if self._rolling else len(ring)
        entries = list(ring)[-n_keep:] if n_keep > 0 else []
        cur = self._cur[i] if (tariff == 0 or self._cur_valid_for_tariff) else 0.0
        e = add_up(v[i] for v in entries) + cur
        return min(e / (self.cycle_s / 3600.0), DEMAND_MAX)

    def window_average(self, quantity: str) -> float:
        """Average power of the last completed sub-interval (display 051, manual 1.3 item 3)."""
        return self.last_window[QUANTITIES.index(quantity)] / (self.window_s / 3600.0)

    def cycle_average(self, quantity: str) -> float:
        """Average power of the last demand interval (display 052, OBIS D = 5 total)."""
        return self.last_average[0][QUANTITIES.index(quantity)]

    @staticmethod
    def _pf(e: list[float]) -> float:
        ix = {q: i for i, q in enumerate(QUANTITIES)}
        p = e[ix["import"]] - e[ix["export"]]
        q = e[ix["r_import"]] - e[ix["r_export"]]
        return power_factor(p, q)

    def window_power_factor(self) -> float:
        """Average PF of the last rolling window interval (display 071, manual 1.3 item 4)."""
        return self._pf(self.last_window)

    def cycle_power_factor(self) -> float:
        """Average PF of the last demand interval (display 072, manual 1.3 item 4)."""
        return self._pf(self.last_cycle)

    # -- persistence -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "settings": [self.settings.mode, self.settings.cycle_min, self.settings.window_min],
            "tariff": self.tariff, "powered": self.powered,
            "maxima": self.maxima, "max_times": self.max_times, "cumulative": self.cumulative,
            "last_average": self.last_average, "last_window": self.last_window,
            "last_cycle": self.last_cycle,
            "window_start": self.window_start, "window_end": self.window_end,
            "cur": self._cur, "cur_valid": self._cur_valid_for_tariff,
            "total_ring": list(self._total_ring), "tariff_ring": list(self._tariff_ring),
        }

    def restore(self, d: dict[str, Any]) -> None:
        mode, cycle, window = d["settings"]
        self.settings = DemandSettings(mode, cycle, window)
        self.tariff = d["tariff"]
        self.powered = d["powered"]
        self.maxima = [list(r) for r in d["maxima"]]
        self.max_times = [list(r) for r in d["max_times"]]
        self.cumulative = [list(r) for r in d["cumulative"]]
        self.last_average = [list(r) for r in d["last_average"]]
        self.last_window = list(d["last_window"])
        self.last_cycle = list(d["last_cycle"])
        self.window_start = d["window_start"]
        self.window_end = d["window_end"]
        self._cur = list(d["cur"])
        self._cur_valid_for_tariff = d["cur_valid"]
        n = self.settings.n_windows
        self._total_ring = deque((list(v) for v in d["total_ring"]), maxlen=n)
        self._tariff_ring = deque((list(v) for v in d["tariff_ring"]), maxlen=n)


def flow_vector(flow: Any) -> list[float]:
    """Energy vector in `QUANTITIES` order from the core's EnergyFlow (contracts 4)."""
    return _vector(flow.import_, flow.export, flow.q1, flow.q2, flow.q3, flow.q4, flow.apparent)


def scaled_vector(unit: Any, h: float) -> list[float]:
    """`flow_vector` of the flow of ``h`` hours whose one-hour flow is ``unit`` (a Jump's): each
    energy is power x hours, the product the meter's flow of that span holds."""
    return _vector(unit.import_ * h, unit.export * h, unit.q1 * h, unit.q2 * h, unit.q3 * h,
                   unit.q4 * h, unit.apparent_import * h + unit.apparent_export * h)


def _vector(import_: float, export: float, q1: float, q2: float, q3: float, q4: float,
            apparent: float) -> list[float]:
    return [import_, export, q1 + q2, q3 + q4, q1, q2, q3, q4, apparent]


#: Spans handed over at a time while a fast-forward walks towards settled registers.
_SPAN_CHUNK = 256


def _spans(hours: np.ndarray, closing: np.ndarray, stop: int) -> Iterator[tuple[float, bool]]:
    """(hours, closes a sub-interval) of the spans before `stop`, as Python numbers, a chunk
    at a time: the walk usually settles within a few cycles of a jump of tens of thousands of
    spans, and turning the whole of both arrays into lists was most of a jump's time here."""
    for a in range(0, stop, _SPAN_CHUNK):
        b = min(a + _SPAN_CHUNK, stop)
        yield from zip(hours[a:b].tolist(), closing[a:b].tolist(), strict=True)


class DemandComponent(ComponentBase):
    """Event-loop component (contracts 4) wrapping `DemandRegisters`; times are true times."""

    name = "demand"

    def __init__(
        self,
        clock: MeterClock,
        settings: DemandSettings,
        start_time: float,
        tariff: int = 1,
        defects: frozenset[str] = frozenset(),
    ) -> None:
        self.clock = clock
        self._registers = DemandRegisters(
            settings, clock.meter_seconds(start_time), tariff, frozenset(defects) & set(DEFECTS)
        )
        self._due = self._boundary_true()
        # Fast-forward (meter.A1000._fast_forward): sub-intervals closed since the last change
        # this component heard of, and the true time of the last close.
        self._steady = 0
        self._closed_at: float | None = None

    # -- the read interface other parts use (the display, billing) --------------------------

    @property
    def registers(self) -> DemandRegisters:
        """The demand registers (billing freezes and resets them: manual 1.5 item 3)."""
        return self._registers

    def maximum(self, quantity: str, tariff: int = 0) -> MaxDemand:
        """Maximum demand (OBIS D = 6) of `quantity` in `tariff` (0 = total), with its time."""
        return self._registers.maximum(quantity, tariff)

    def cumulative(self, quantity: str, tariff: int = 0) -> float:
        """Cumulative maximum demand (OBIS D = 2): the sum of the maxima at every reset."""
        return self._registers.cumulative[tariff][QUANTITIES.index(quantity)]

    def _boundary_true(self) -> float | None:
        b = self._registers.next_boundary
        return None if b is None else self.clock.true_time(b)

    def _catch_up(self, now: float) -> None:
        while self._due is not None and now >= self._due:
            self._registers.close_window(self._registers.window_end)
            self._closed_at = self._due
            self._steady += 1
            self._due = self._boundary_true()

    def _unsteady(self) -> None:
        self._steady = 0

    def repeats(self, now: float, steady_since: float) -> Repeat | None:
        """Fast-forward from a sub-interval end (``fast_forward`` closes what it must)."""
        if self._closed_at != now:
            return None
        return self._registers.repeats()

    def _settled(self, steady_since_meter_s: float) -> bool:
        """At least 2n + 1 sub-intervals (n per cycle) closed since the last change this
        component heard of, under one flow: the last n of them hold a whole block, evaluated at
        the constant power, and the maxima are at least that demand (``settled``). Every later
        block of the load gives the same demand (within float noise far below ``_EQUAL_KW``),
        so skipping blocks changes no maximum nor stamp."""
        r = self._registers
        return self._steady >= 2 * r.settings.n_windows + 1 and r.settled(steady_since_meter_s)

    def fast_forward(self, jump: Jump) -> None:
        """Close the jump's sub-intervals as the loop does, span by span from the jump's flow,
        until the registers are settled (``_settled``) on a block end; skip the blocks after
        that but the last n sub-intervals (one cycle), and close those span by span again:
        what the state keeps of them (the rolling window, the last averages, the last
        sub-interval and cycle) is then the loop's to the last bit. Block mode: both ends of
        the skip are block ends, where the window restarts empty."""
        r = self._registers
        rep = r.repeats()
        assert rep is not None  # repeats allowed the jump and nothing has changed since
        ends = jump.ends
        closing = (ends - ends[-1]) % rep.step == 0  # the sub-interval ends among the spans
        closes = np.flatnonzero(closing)
        n = r.settings.n_windows
        tail = int(closes[-n - 1]) + 1 if len(closes) > n else 0  # the last cycle's first span
        steady_m = self.clock.meter_seconds(jump.steady_since)
        steady = self._steady
        unit = jump.unit
        j = 0
        if tail and not self._settled(steady_m):
            for h, close in _spans(jump.hours, closing, tail):
                r.add_energy(scaled_vector(unit, h))
                j += 1
                if close:
                    r.close_window(r.window_end)
                    self._steady += 1
                    if r.window_start % rep.period == 0 and self._settled(steady_m):
                        break
        if j < tail:
            r.jump_to(float(ends[tail - 1]))
        for h, close in zip(jump.hours[tail:].tolist(), closing[tail:].tolist(), strict=True):
            r.add_energy(scaled_vector(unit, h))
            if close:
                r.close_window(r.window_end)
        self._closed_at = jump.t_end
        self._steady = steady + len(closes)  # every sub-interval of the jump, closed or skipped
        self._due = self._boundary_true()

    def start_unpowered(self) -> None:
        """A new meter without supply: no sub-interval runs until the first power-up."""
        self._registers.powered = False
        self._due = None

    def configure(self, now: float, settings: DemandSettings) -> None:
        self._catch_up(now)
        self._unsteady()
        self._registers.configure(settings, self.clock.meter_seconds(now))
        self._due = self._boundary_true()

    # Component protocol
    def next_event(self, now: float) -> float | None:
        return self._due

    def accumulate(self, t0: float, t1: float, flow: Any) -> None:
        r = self._registers
        if flow.tariff != r.tariff:
            # The core sets its first tariff after building the components without notifying
            # them: follow the flow (at the start nothing is skipped, see change_tariff).
            r.change_tariff(flow.tariff, self.clock.meter_seconds(t0))
        r.add_energy(flow_vector(flow))

    def on_event(self, now: float) -> None:
        self._catch_up(now)

    def on_inputs(self, now: float, m: Any) -> None:
        self._catch_up(now)

    def on_power(self, now: float, up: bool) -> None:
        self._catch_up(now)
        self._unsteady()
        if up:
            self._registers.power_up(self.clock.meter_seconds(now))
        else:
            self._registers.power_down(self.clock.meter_seconds(now))
        self._due = self._boundary_true()

    def on_clock_set(self, now: float, old_meter_s: float, new_meter_s: float) -> None:
        self._catch_up(now)
        self._unsteady()
        self._registers.clock_set(old_meter_s, new_meter_s)
        self._due = self._boundary_true()

    def on_tariff(self, now: float, old: int, new: int) -> None:
        # The count of steady sub-intervals runs on: the meter's steady_since restarts at a
        # switch, and a jump skips no block until the last cycle and one sub-interval before
        # it lie after the switch (``_settled``), so the new tariff's window is full.
        self._catch_up(now)
        self._registers.change_tariff(new, self.clock.meter_seconds(now))

    def snapshot(self) -> dict[str, Any]:
        return self._registers.snapshot()

    def restore(self, d: dict[str, Any]) -> None:
        self._registers.restore(d)
        self._unsteady()
        self._due = self._boundary_true()

    # Registers for the OBIS map (standards.md 3.3 and 7.1)
    def display_items(self) -> dict[str, DisplayValue]:
        """Sliding-window and cycle averages, power factors and the demand period (manual
        2.1.2 item 7: 051, 052, 071, 072, DI)."""
        def average(kind: str, quantity: str, unit: str) -> DisplayValue:
            def value(now: float, rec: int | None) -> tuple[str, str]:
                r = self._registers
                v = r.window_average(quantity) if kind == "window" else r.cycle_average(quantity)
                return f"{v:.4f}", unit
            return value

        return {
            "051P": average("window", "import", "kW"),
            "052P": average("cycle", "import", "kW"),
            "051Q": average("window", "r_import", "kvar"),
            "052Q": average("cycle", "r_import", "kvar"),
            "071": lambda now, rec: (f"{self._registers.window_power_factor():.3f}", ""),
            "072": lambda now, rec: (f"{self._registers.cycle_power_factor():.3f}", ""),
            "DI": lambda now, rec: (f"{self._registers.settings.cycle_min}", "min"),
        }

    def obis_rows(self) -> list[ObisRow]:
        """D = 6 maximum (value, time stamp YYMMDDhhmm), 2 cumulative, 4 current average, 5 last
        average; E = 0 total, 1..4 tariff. Appendix A rows are in the readout."""
        r = self._registers
        rows: list[ObisRow] = []
        src = "manual 1.2, Appendix A; standards.md 3.3, 7.1"
        for q in QUANTITIES:
            c, unit = OBIS_C[q], UNITS[q]
            i = QUANTITIES.index(q)
            for t in range(TARIFFS + 1):
                what = "total" if t == 0 else f"F{t}"
                in_readout = c in (1, 2) or t == 0
                rows.append(ObisRow(
                    f"1-1:{c}.6.{t}", f"Maximum demand {q} {what} (value, YYMMDDhhmm)", unit, src,
                    lambda _m, q=q, t=t, unit=unit: _max_values(r.maximum(q, t), unit),
                    readout=in_readout))
                rows.append(ObisRow(
                    f"1-1:{c}.2.{t}", f"Cumulative maximum demand {q} {what}", unit, src,
                    lambda _m, i=i, t=t: (f"{r.cumulative[t][i]:.4f}",),
                    readout=in_readout and c in (1, 2)))
                rows.append(ObisRow(
                    f"1-1:{c}.4.{t}", f"Current average demand {q} {what} (rising)", unit, src,
                    lambda _m, q=q, t=t: (f"{r.rising(q, t):.4f}",),
                    readout=c in (1, 2)))
                rows.append(ObisRow(
                    f"1-1:{c}.5.{t}", f"Last average demand {q} {what}", unit, src,
                    lambda _m, i=i, t=t: (f"{r.last_average[t][i]:.4f}",),
                    readout=(c == 1 and t == 0)))  # display 052
        src = "manual 1.3 items 3-4, codes 051/052/071/072 (manufacturer-specific C.50)"
        rows += [
            ObisRow("C.50.1", "Average active import power of the last rolling window", "kW",
                    src, lambda _m: (f"{r.window_average('import'):.4f}",), readout=True),
            ObisRow("C.50.2", "Average reactive import power of the last rolling window", "kvar",
                    src, lambda _m: (f"{r.window_average('r_import'):.4f}",), readout=True),
            ObisRow("C.50.3", "Average power factor of the last rolling window", None, src,
                    lambda _m: (f"{r.window_power_factor():.3f}",), readout=True),
            ObisRow("C.50.4", "Average power factor of the last demand interval", None, src,
                    lambda _m: (f"{r.cycle_power_factor():.3f}",), readout=True),
            ObisRow("C.50.5", "Average reactive import power of the last demand interval",
                    "kvar", src, lambda _m: (f"{r.cycle_average('r_import'):.4f}",),
                    readout=True),
            ObisRow("1-1:0.8.0", "Demand cycle (min); W1 sets it", "min",
                    "manual 1.2 item 2, display 'Demand Interval'; standards.md 7.1",
                    lambda _m: (f"{r.settings.cycle_min}",), self._put_cycle, readout=True),
            ObisRow("C.50.0", "Demand mode and rolling interval: (BLOCK|ROLLING)(min); W1 sets",
                    None, "manual 1.2 item 2 (manufacturer-specific)",
                    lambda _m: (r.settings.mode.upper(), Value(f"{r.settings.window_min}", "min")),
                    self._put_mode),
        ]
        return rows

    def _apply(self, meter: Any, settings_args: tuple[str, int, int]) -> None:
        try:
            settings = DemandSettings(*settings_args)
        except DemandConfigError as e:
            raise RegisterError(_short_error(str(e))) from None
        self.configure(meter.now, settings)

    def _put_cycle(self, meter: Any, values: tuple[str, ...]) -> None:
        if len(values) != 1 or not values[0].strip().isdigit():
            raise RegisterError("demand cycle: minutes expected")
        s = self._registers.settings
        self._apply(meter, (s.mode, int(values[0]), s.window_min))

    def _put_mode(self, meter: Any, values: tuple[str, ...]) -> None:
        if len(values) not in (1, 2):
            raise RegisterError("mode: (BLOCK|ROLLING)(min)")
        s = self._registers.settings
        mode = values[0].strip().lower()
        window = s.window_min
        if len(values) == 2:
            if not values[1].strip().isdigit():
                raise RegisterError("rolling interval: minutes")
            window = int(values[1])
        self._apply(meter, (mode, s.cycle_min, window))


def _short_error(text: str) -> str:
    """Protocol error text: <= 32 characters without ( ) * / ! (standards.md 6.3)."""
    for a, b in (("rolling interval", "INTERVAL"), ("demand cycle", "CYCLE"),
                 ("demand mode", "MODE")):
        if text.startswith(a):
            return f"{b} REJECTED" if "multiple" not in text else "CYCLE NOT MULTIPLE OF INTERVAL"
    return "DEMAND SETTINGS REJECTED"


def _max_values(m: MaxDemand, unit: str) -> tuple[str, ...]:
    return (f"{m.value:.4f}", stamp_yymmddhhmm(m.meter_time))


def make_demand(meter: Any) -> DemandComponent:
    """Factory for the core's COMPONENT_FACTORIES: settings from the `demand:` configuration
    section (mode, cycle_min, window_min), defaults block 15 min / 5 min."""
    cfg = config_section(meter.config, "demand")
    try:
        settings = DemandSettings(**cfg)
    except TypeError as e:
        raise DemandConfigError(f"demand configuration: {e}") from None
    comp = DemandComponent(meter.clock, settings, meter.now, meter.tariff,
                           frozenset(defect_names(meter)) & set(DEFECTS))
    if not meter.powered:
        comp.start_unpowered()
    return comp
