"""The software Blue Star A1000: metering core and event loop (docs/conventions.md section 4).

Virtual time, event-driven (DESIGN.md decision 2). ``advance_to(t)`` steps from event to
event: tariff switches (computed from the TOU tables and the meter clock) and the
boundaries announced by the components (``COMPONENT_FACTORIES``). Between events every
input is constant: the registers integrate exactly (``registers.EnergyRegisters``), pulse
edges are computed on demand, and each component receives the span's ``EnergyFlow``.
The same model runs in wall-clock time when a server feeds it wall time (``meter.__main__``).

Fast-forward (``_fast_forward``): over a span of constant inputs, tariff and configuration the
loop closes the components' repeating boundaries (demand sub-intervals, load-profile entries)
in one jump instead of event by event, with the same result to the last bit: each component
replays or skips what it may (``Component.repeats`` / ``fast_forward``), anything that can
change inside the span (a tariff switch, a billing date, an event, programming, the caller's
target) ends it, and a meter built with ``fast_forward=False`` goes event by event throughout
(tests/meter/a1000/test_fast_forward.py compares the two).

Power: the meter runs from its voltage circuits; below ``POWER_THRESHOLD`` x nominal on
every element it is powered down: nothing registers, the clock runs on (battery), the
state is saved. Persistence: see ``store.py``; a periodic save runs every
``persistence.save_interval_s`` of true time, checked at the end of each ``advance_to``, so
a process kill loses at most the energy of one save interval (plus, in wall-clock serving,
the 1 s tick of the server loop).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from gmpy2 import mpq

from meter.a1000.bank import A1000RegisterBank
from meter.a1000.billing import make_billing  # part 2
from meter.a1000.clock import MeterClock, meter_datetime, ppm_from_seconds_per_day
from meter.a1000.component import Component, EnergyFlow, Jump
from meter.a1000.config import (
    ANTI_CREEP_IN,
    LED_DUTY,
    POWER_THRESHOLD,
    PROGRAMMING_TIMEOUT_S,
    PULSE_WIDTH_S,
    MeterConfig,
)
from meter.a1000.defects import Defects, build_defects
from meter.a1000.demand import make_demand  # part 2
from meter.a1000.display import make_display  # part 2
from meter.a1000.events import make_events  # part 2
from meter.a1000.load_profile import make_load_profile  # part 2
from meter.a1000.mutations import apply_mutants
from meter.a1000.programming import ProgrammingState
from meter.a1000.registers import QUANTITIES, EnergyRegisters, PulseOutput, format_register
from meter.a1000.store import StateStore
from meter.a1000.tou import TouTables
from meter.electrical import ElectricalInputs, Measurements, measure, quadrant

log = logging.getLogger(__name__)

# ERR 2 bits (A1000 manual Appendix B).
ERR2_CLOCK_OSCILLATOR = 0x01
ERR2_CLOCK_RW = 0x02
ERR2_EEPROM = 0x04
ERR2_MEASURING_CHIP = 0x08
ERR2_CPU_PROGRAM = 0x10
ERR2_LOW_BATTERY = 0x40
ERR2_SPI = 0x80
# The hardware conditions behind the ERR 2 bits, injectable (``set_condition``; on the simulated
# bench and the standalone meter through the control endpoint's ``condition`` action). Name ->
# (bit, what the condition is and does in the model). Choices (Appendix B names each bit only):
# a bit is raised when its condition appears and stays latched until F.F is cleared (W1 F.F(0)),
# except low battery, which follows the battery; a clear keeps the bits of conditions still
# present.
HARDWARE_CONDITIONS: dict[str, tuple[int, str]] = {
    "clock_oscillator": (ERR2_CLOCK_OSCILLATOR, "the RTC oscillator check fails (bit only: the "
                         "clock runs on from the CPU's timing)"),
    "clock_rw": (ERR2_CLOCK_RW, "the RTC chip cannot be read or written: W1 of 0.9.1 / 0.9.2 "
                 "is refused (CLOCK ERROR)"),
    "eeprom": (ERR2_EEPROM, "EEPROM writes fail: no state is saved while it lasts (also raised "
               "at start-up by a damaged state file)"),
    "measuring_chip": (ERR2_MEASURING_CHIP, "the CS5460A measuring chip cannot be read: nothing "
                       "registers (registers, pulses and demand stand still)"),
    "cpu_program": (ERR2_CPU_PROGRAM, "the program memory check fails (bit only)"),
    "low_battery": (ERR2_LOW_BATTERY, "the backup battery is low (not latched)"),
    "spi": (ERR2_SPI, "an SPI bus transfer fails (bit only)"),
}
# ERR 1 bits (A1000 manual Appendix B); set by the events component (part 2).
ERR1_OVER_VOLTAGE = 0x01
ERR1_UNDER_VOLTAGE = 0x02
ERR1_PHASE_VOLTAGE_LOSS = 0x04
ERR1_PHASE_FAILURE = 0x08
ERR1_CURRENT_REVERSAL = 0x10
ERR1_ENERGY_REVERSAL = 0x20
ERR1_MISSING_CURRENT = 0x40
ERR1_PHASE_SEQUENCE = 0x80

# A jump spans at least one period (``_fast_forward``: k >= 1), and a period is a whole number
# of meter seconds (``Repeat``): at least 1 s of meter time, more than 0.999 s of true time at
# the clock's largest drift (config: |drift_ppm| <= 1000). A target closer than this cannot be
# jumped to.
_NO_JUMP_S = 0.99

# The components plugged into the event loop, in call order. Part 2 adds its factories
# here (demand, billing, load profile, events, display); each gets the meter and returns a
# Component (see component.py). Keep this the one list.
ComponentFactory = Callable[["A1000"], Component]
# --- part 2 (meter-part-2 helper): demand, load profile, billing, events, display. Order:
# billing needs demand (and marks load-profile entries), the display reads all of them; each
# factory reads its own config section.
COMPONENT_FACTORIES: list[ComponentFactory] = [
    make_demand, make_load_profile, make_billing, make_events, make_display,
]

_ZERO_FLOW_PHASES = (0.0, 0.0, 0.0)
_new_flow = object.__new__


def _zero_rates() -> tuple[float, ...]:
    return (0.0,) * len(QUANTITIES)



# Which nameplate constant each output counts with (asked at every pulse edge).
_CONSTANT_KIND = {o: "reactive" if o.is_reactive else "active" for o in PulseOutput}


def _output(output: PulseOutput | str) -> PulseOutput:
    # The simulator passes the enum itself; a name is converted (the enum call costs more).
    return output if type(output) is PulseOutput else PulseOutput(output)

class A1000:
    """One software A1000 meter. See the module docstring and docs/conventions.md section 4."""

    def __init__(
        self,
        config: MeterConfig,
        *,
        start_time: float,
        state_dir: str | Path | None = None,
        defects: Iterable[Any] = (),
        components: Iterable[ComponentFactory] | None = None,
        fast_forward: bool = True,
    ) -> None:
        self.config = config
        self.fast_forward = fast_forward  # False: event by event throughout (module doc)
        self.defects: Defects = build_defects([*config.defects, *defects])
        self.now = float(start_time)
        # True time of the last change of what a span holds constant (the fast-forward's
        # components ask how long it has held): rates, tariff, power, clock, programming.
        self._steady_since = self.now
        self.jumps = 0  # fast-forwards made (what tests and benchmarks read)
        drift = config.clock.drift_ppm
        if self.defects.clock_seconds_per_day is not None:
            drift = ppm_from_seconds_per_day(self.defects.clock_seconds_per_day)
        self.clock = MeterClock(self.now, self.now + config.clock.utc_offset_s, drift)
        self.tou: TouTables = config.tou
        self.constants = {
            "active": config.constants.active_imp_per_kwh,
            "reactive": config.constants.reactive_imp_per_kvarh,
        }
        self._effective_constants: dict[int, mpq] = {}
        ident = config.identity
        self.identity = {
            "meter_number": ident.meter_number,
            "user_number": ident.user_number,
            "device_number": ident.device_number,
            "bureau_number": ident.bureau_number,
        }
        self.err1 = 0
        self.err2 = 0
        self.programming = ProgrammingState()
        self.battery_low = False
        self.conditions: set[str] = set()  # hardware conditions present (HARDWARE_CONDITIONS)
        self.inputs = ElectricalInputs.dead(config.frequency)
        self.measurements: Measurements = measure(self.inputs, config.wiring)
        self.powered = False
        self._rates = _zero_rates()
        self._phase_rates: tuple[tuple[float, float, float], tuple[float, float, float]] = (
            _ZERO_FLOW_PHASES,
            _ZERO_FLOW_PHASES,
        )
        self.tariff = 1
        self.energy = EnergyRegisters(self.now, self.tariff)
        # Edges each output has emitted before _emitted_from; the span since is counted when
        # asked (pulses_emitted), or folded in first when it could no longer be: a constant
        # change, registers restored, or its start about to leave the kept pulse history.
        self._emitted = dict.fromkeys(PulseOutput, 0)
        self._emitted_from = self.now
        self._switch_at: float | None = None
        self._switch_meter_s: int | None = None
        self._switch_tariff = 1
        # True time the programming state times out (None outside it): an event of the loop,
        # so the components restart exactly then (manual 2.1.1).
        self._prg_end: float | None = None
        self.last_clock_set_meter_s: float | None = None
        self.last_tou_change_meter_s: float | None = None
        self.store = StateStore(state_dir) if state_dir is not None else None
        self.load_report = ""
        self._last_save = self.now
        self._saved_energy: dict[str, list[str]] = self.energy.snapshot(self.now)
        factories = COMPONENT_FACTORIES if components is None else list(components)
        # Built one by one so a factory can find the components made before it.
        self.components: list[Component] = []
        for factory in factories:
            self.components.append(factory(self))
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError(f"component names must be unique, got {names}")
        apply_mutants(self)  # generated faults (mutation testing); none on a healthy meter
        if self.store is not None:
            self._load_state()
        self._schedule_tariff(initial=True)
        self._bank: A1000RegisterBank | None = None

    # ------------------------------------------------------------------ time / loop

    @property
    def tariff_delay_s(self) -> float:
        if self.defects.tariff_delay_s is not None:
            return self.defects.tariff_delay_s
        return self.config.clock.tariff_switch_delay_s

    def meter_seconds(self, t: float | None = None) -> float:
        return self.clock.meter_seconds(self.now if t is None else t)

    def meter_datetime(self, t: float | None = None) -> dt.datetime:
        """The meter clock's reading (naive local datetime) at t (default: now)."""
        return meter_datetime(self.meter_seconds(t))

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(f"no component {name!r}; have {[c.name for c in self.components]}")

    def advance_to(self, t: float) -> None:
        """Advance the model to true time t (>= now), firing every event on the way."""
        t = float(t)
        if t < self.now:
            raise ValueError(f"advance_to({t}) is before now ({self.now}); time runs forward")
        components = self.components
        while True:
            if self.fast_forward and components:
                self._fast_forward(t)
            now = self.now
            t_next = t
            switch = self._switch_at
            if switch is not None and now < switch <= t_next:
                t_next = switch
            prg_end = self._prg_end
            if prg_end is not None and now < prg_end < t_next:
                t_next = prg_end
            for c in components:
                e = c.next_event(now)
                if e is not None and now < e < t_next:
                    t_next = e
            if components and t_next > now:
                self._span(now, t_next)
            self.now = t_next
            self._fire()
            if t_next >= t:
                break
        if self.now - self._last_save >= self.config.persistence.save_interval_s:
            self.save()

    def _fast_forward(self, t: float) -> None:
        """Jump over the constant span ahead when every component allows it (module doc).

        Where all components stand on a common boundary S (``repeats``), the jump lands on
        S + k x P, P the least common multiple of their periods, the last such boundary before
        the first thing that can change the span: the target t, a tariff switch, the end of
        programming, an idle component's next event. The jump hands each component every
        boundary on the way with the span lengths the loop would compute; a component closes
        itself the boundaries whose results its state keeps (DemandComponent.fast_forward)."""
        now = self.now
        if t - now < _NO_JUMP_S:
            return  # too short for any jump: spare asking every component (each R1 lands here)
        limit = t
        for e in (self._switch_at, self._prg_end):
            if e is not None and e < limit:
                limit = e
        at: float | None = None
        steps: list[int] = []
        period = 1
        for c in self.components:
            repeats = getattr(c, "repeats", None)
            rep = repeats(now, self._steady_since) if repeats is not None else None
            if rep is None:
                return
            if rep.at is None:  # idle: only its next event bounds the jump
                e = c.next_event(now)
                if e is not None and e < limit:
                    limit = e
                continue
            if at is None:
                at = rep.at
            elif rep.at != at:
                return
            steps.append(rep.step)
            period = math.lcm(period, rep.period)
        clock = self.clock
        if at is None or at % period or clock.true_time(at) != now:
            return
        # Land on the last common boundary strictly before the limit: what ends the span (a
        # tariff switch, the target) then happens in the loop, after the landing.
        k = int((clock.meter_seconds(limit) - at) // period)
        if k >= 1 and clock.true_time(at + k * period) >= limit:
            k -= 1
        if k < 1:
            return
        span = k * period
        # numpy's float64 operations round as Python's: the true times and span lengths below
        # are bit for bit those of the loop (MeterClock.true_time, _span).
        base = min(steps)
        if all(step % base == 0 for step in steps):  # the usual: 5-min demand, 15-min profile
            ends = at + np.arange(base, span + 1, base)
        else:
            ends = np.unique(np.concatenate([at + np.arange(step, span + 1, step)
                                             for step in steps]))
        times = clock.true_time(ends)  # type: ignore[arg-type]
        hours = np.empty_like(times)  # (t1 - t0) / 3600 of each span, as _span computes it
        hours[0] = times[0] - now
        np.subtract(times[1:], times[:-1], out=hours[1:])
        hours /= 3600.0
        t_end = float(times[-1])
        jump = Jump(ends, hours, self._flow(1.0), t_end, self._steady_since)
        for c in self.components:
            c.fast_forward(jump)  # type: ignore[attr-defined]
        self.now = t_end
        self.jumps += 1

    def _span(self, t0: float, t1: float) -> None:
        """Hand the energy of [t0, t1) (inputs, tariff, power constant) to the components."""
        flow = self._flow((t1 - t0) / 3600.0)
        for c in self.components:
            c.accumulate(t0, t1, flow)

    def _flow(self, h: float) -> EnergyFlow:
        """The EnergyFlow of h hours at the present rates, tariff and power state."""
        r = self._rates
        ph_i, ph_e = self._phase_rates
        # Filling __dict__ directly skips the frozen dataclass's 19 guarded setattr calls;
        # the event loop builds one of these per event.
        flow = _new_flow(EnergyFlow)
        flow.__dict__.update(
            import_=r[0] * h,
            export=r[1] * h,
            q1=r[2] * h,
            q2=r[3] * h,
            q3=r[4] * h,
            q4=r[5] * h,
            apparent_import=r[6] * h,
            apparent_export=r[7] * h,
            phase_import=(ph_i[0] * h, ph_i[1] * h, ph_i[2] * h),
            phase_export=(ph_e[0] * h, ph_e[1] * h, ph_e[2] * h),
            p_import_kw=r[0],
            p_export_kw=r[1],
            q1_kvar=r[2],
            q2_kvar=r[3],
            q3_kvar=r[4],
            q4_kvar=r[5],
            s_kva=r[6] + r[7],
            tariff=self.tariff,
            powered=self.powered,
        )
        return flow

    def _fire(self) -> None:
        now = self.now
        if self._switch_at is not None and now >= self._switch_at:
            self._do_tariff_switch()
        if self._prg_end is not None and now >= self._prg_end:
            self._programming_changed()  # 4 minutes without a button (manual 2.1.1)
        for c in self.components:
            c.on_event(now)

    # ------------------------------------------------------------------ tariffs

    def _tariff_reading(self, t: float) -> float:
        """Meter time the tariff logic acts on: the clock reading less the switch delay."""
        return self.clock.meter_seconds(t) - self.tariff_delay_s * self.clock.rate

    def _schedule_tariff(self, initial: bool = False) -> None:
        """Recompute the tariff in force and the next switch from the meter clock now."""
        m = self._tariff_reading(self.now)
        new = self.tou.tariff_at(m)
        if new != self.tariff:
            self._set_tariff(new, notify=not initial)
        self._plan_next_switch(m)

    def _plan_next_switch(self, from_meter_s: float) -> None:
        nxt = self.tou.next_change(from_meter_s)
        if nxt is None:
            self._switch_at = self._switch_meter_s = None
            return
        b, tariff = nxt
        self._switch_meter_s = b
        self._switch_tariff = tariff
        self._switch_at = max(self.clock.true_time(b) + self.tariff_delay_s, self.now)
        if self._switch_at <= self.now:
            self._switch_at = math.nextafter(self.now, math.inf)

    def _do_tariff_switch(self) -> None:
        b = self._switch_meter_s
        self._set_tariff(self._switch_tariff, notify=True)
        self._plan_next_switch(float(b) if b is not None else self._tariff_reading(self.now))

    def _set_tariff(self, new: int, notify: bool) -> None:
        old = self.tariff
        self._steady_since = self.now
        self.energy.set_tariff(self.now, new)
        self.tariff = new
        if notify and old != new:
            for c in self.components:
                c.on_tariff(self.now, old, new)

    def set_tou(self, t: float, tables: TouTables) -> None:
        """Replace the TOU tables (already validated) at true time t."""
        self.advance_to(t)
        self.last_tou_change_meter_s = self.meter_seconds()
        if tables == self.tou:
            # The same calendar written again (a rig writes it back after each dose): the
            # tariff in force and the switch planned from it stand; the tables in force keep
            # what they have worked out (TouTables caches).
            return
        self.tou = tables
        self._schedule_tariff()

    # ------------------------------------------------------------------ clock

    def set_clock(self, t: float, meter_s: float) -> None:
        """Set the meter clock at true time t to read meter_s (protocol W1 0.9.1/0.9.2)."""
        self.advance_to(t)
        old = self.clock.set(self.now, float(meter_s))
        self._steady_since = self.now
        self.last_clock_set_meter_s = float(meter_s)
        self._schedule_tariff()
        for c in self.components:
            c.on_clock_set(self.now, old, float(meter_s))

    # ------------------------------------------------------------------ inputs

    def set_inputs(self, t: float, inputs: ElectricalInputs) -> None:
        """advance_to(t), then change the electrical inputs."""
        self.advance_to(t)
        self.inputs = inputs
        m = measure(inputs, self.config.wiring)
        self.measurements = m
        powered = m.max_voltage >= POWER_THRESHOLD * self.config.element_voltage
        changed = powered != self.powered
        if changed and not powered and self._prg_end is not None:
            # The programming state is volatile (not in the snapshot): a power-down ends it.
            self.programming.prg_active = False
            self._programming_changed()
        self.powered = powered
        self._steady_since = self.now
        if changed and powered:
            self._schedule_tariff()
        self._update_rates()
        for c in self.components:
            c.on_inputs(self.now, m)
        if changed:
            for c in self.components:
                c.on_power(self.now, powered)
            if not powered:
                self._power_down_save()

    def _update_rates(self) -> None:
        measuring = self.powered and "measuring_chip" not in self.conditions
        rates, ph_i, ph_e = self._registered_rates() if measuring else (
            _zero_rates(),
            _ZERO_FLOW_PHASES,
            _ZERO_FLOW_PHASES,
        )
        self._rates = rates
        self._phase_rates = (ph_i, ph_e)
        self._steady_since = self.now
        if not self.energy.keeps_after_change(self._emitted_from):
            self._fold_pulses()
        self.energy.set_rates(self.now, rates)

    def _registered_rates(
        self,
    ) -> tuple[tuple[float, ...], tuple[float, float, float], tuple[float, float, float]]:
        """Registered powers (kW): error model, starting/anti-creep and defects applied."""
        cfg, m, d = self.config, self.measurements, self.defects
        i_n, i_max, u_n, f_n = cfg.in_a, cfg.imax_a, cfg.element_voltage, cfg.frequency
        threshold = (
            d.starting_threshold_in if d.starting_threshold_in is not None else ANTI_CREEP_IN
        ) * i_n
        em = cfg.error_model
        kw = {"i_n": i_n, "i_max": i_max, "u_n": u_n, "f_n": f_n}
        gains = bool(d.gain_regions)
        p_tot = q_tot = 0.0
        s_weighted = s_sum = 0.0
        ph_p = [0.0, 0.0, 0.0]
        for k, e in enumerate(m.phases):
            if e.voltage <= 0:
                continue
            if e.current < threshold:
                if d.creep_fraction and e.voltage > 0:
                    creep = d.creep_fraction * e.voltage * i_n
                    ph_p[k] = creep
                    p_tot += creep
                continue
            sin_phi = e.q / e.s if e.s else 0.0
            ea = em.active.percent(e.current, e.pf, e.voltage, m.frequency, e.thd_i, **kw)
            er = em.reactive.percent(e.current, sin_phi, e.voltage, m.frequency, e.thd_i, **kw)
            es = em.apparent.percent(e.current, e.pf, e.voltage, m.frequency, e.thd_i, **kw)
            if gains:  # a defect's extra error in some current ranges
                ea += d.gain_percent("active", e.current, i_n)
                er += d.gain_percent("reactive", e.current, i_n)
                es += d.gain_percent("apparent", e.current, i_n)
            p = e.p * (1 + ea / 100)
            ph_p[k] = p
            p_tot += p
            q_tot += e.q * (1 + er / 100)
            s_weighted += e.s * es
            s_sum += e.s
        es_mean = s_weighted / s_sum if s_sum else 0.0
        s_tot = math.hypot(p_tot, q_tot) * (1 + es_mean / 100)
        rates = [0.0] * len(QUANTITIES)
        if p_tot >= 0:
            rates[0] = p_tot / 1000
            rates[6] = s_tot / 1000
        else:
            rates[1] = -p_tot / 1000
            rates[7] = s_tot / 1000
        if q_tot:
            quad = d.quadrant_map[quadrant(p_tot, q_tot)]
            rates[1 + quad] = abs(q_tot) / 1000
        ph_i = tuple(max(p, 0.0) / 1000 for p in ph_p)
        ph_e = tuple(max(-p, 0.0) / 1000 for p in ph_p)
        return tuple(rates), ph_i, ph_e  # type: ignore[return-value]

    # ------------------------------------------------------------------ registers

    def register(self, quantity: str, tariff: int = 0) -> float:
        """Registered energy (kWh, kvarh, kVAh) at ``now``; quantity in registers.QUANTITIES,
        tariff 0 = total. Full internal value (no rollover); see ``register_display``."""
        return float(self.energy.value(quantity, tariff, self.now))

    def register_display(self, quantity: str, tariff: int = 0) -> str:
        """Register as the meter shows it: format 99999.99 or 999999.9 with rollover
        (manual 1.1 item 5); truncated, never rounded up."""
        cfg = self.config
        v = self.energy.value(quantity, tariff, self.now)
        return format_register(v, cfg.register_decimals, cfg.register_modulus)

    # ------------------------------------------------------------------ pulses

    def constant(self, output: PulseOutput) -> mpq:
        """Effective pulses per kWh/kvarh of an output (nameplate constant x defect)."""
        c = self.constants[_CONSTANT_KIND[output]]
        # Memo by value (asked at every pulse edge; the constant may be reprogrammed).
        got = self._effective_constants.get(c)
        if got is None:
            got = self._effective_constants[c] = mpq(c) * mpq(self.defects.pulse_factor)
        return got

    def next_pulse(self, output: PulseOutput, after: float, n: int = 1) -> float | None:
        """True time of the next (``n``-th) rising edge strictly after ``after`` (inputs
        constant from now on); None if the output does not advance at the current inputs. The
        edge is the largest float not after the exact edge, always > ``after``; asked again
        from it, the next edge follows (registers.py module doc)."""
        output = _output(output)
        return self.energy.next_pulse(output, self.constant(output), after, n)

    def pulse_count(self, output: PulseOutput, t0: float, t1: float) -> int:
        """Rising edges in [t0, t1) (inputs constant from now on)."""
        return self.pulse_counts((output,), t0, t1)[0]

    def pulse_counts(self, outputs: Iterable[PulseOutput], t0: float, t1: float) -> list[int]:
        """`pulse_count` of several outputs at once (the times converted once)."""
        pairs = [(o, self.constant(o)) for o in map(_output, outputs)]
        return self.energy.pulse_counts(pairs, t0, t1)

    def pulses_emitted(self, outputs: Iterable[PulseOutput], t: float) -> list[int]:
        """Rising edges of each output from the model's start up to t (exclusive; inputs
        constant from now on). Counted per span of constant constant and registers, not at
        every input change (what the simulator reads for its pulse totals)."""
        outputs = [_output(o) for o in outputs]
        since = self.pulse_counts(outputs, self._emitted_from, t)
        return [self._emitted[o] + n for o, n in zip(outputs, since, strict=True)]

    def _fold_pulses(self) -> None:
        """Count the span up to now into the emitted edges (before what would change it)."""
        for o, n in zip(PulseOutput, self.pulse_counts(PulseOutput, self._emitted_from, self.now),
                        strict=True):
            self._emitted[o] += n
        self._emitted_from = self.now

    def pulse_width(self, output: PulseOutput) -> float | None:
        """Pulse width: 80 ms on the outputs; 50 % of the period on the LEDs (manual 1.1)."""
        output = PulseOutput(output)
        if not output.is_led:
            return PULSE_WIDTH_S
        rate = self.energy.output_rate(output)
        if rate <= 0:
            return None
        period = 3600 / float(rate * self.constant(output))
        return LED_DUTY * period

    def pulse_level(self, output: PulseOutput, t: float) -> bool:
        """Is the output (or LED) on at time t?"""
        output = PulseOutput(output)
        width = self.pulse_width(output)
        if width is None:
            return False
        # The last edge at or before t: search from one width back.
        edge = self.next_pulse(output, t - width)
        return edge is not None and edge <= t < edge + width

    def set_constant(self, t: float, kind: str, value: int) -> None:
        """Change a meter constant ('active' imp/kWh or 'reactive' imp/kvarh) at t."""
        self.advance_to(t)
        if kind not in self.constants:
            raise KeyError(f"constant kind must be 'active' or 'reactive', got {kind!r}")
        self._fold_pulses()  # the edges so far were at the old constant
        self.constants[kind] = int(value)

    def clear_errors(self) -> None:
        """Clear latched ERR 1/ERR 2 bits; a condition still present (low battery) stays."""
        self.err1 = 0
        self.err2 = ERR2_LOW_BATTERY if self.battery_low else 0
        for name in self.conditions:
            self.err2 |= HARDWARE_CONDITIONS[name][0]

    # ------------------------------------------------------------------ conditions

    def hold_reset_button(self, t: float, seconds: float) -> bool:
        """Hold the reset button for ``seconds`` from t; True if programming (PRG) starts.

        The model advances to the release, t + seconds, where "PRG" appears."""
        self.advance_to(t + seconds)
        entered = self.programming.hold_reset_button(t, seconds)
        self._programming_changed()
        return entered

    def press_reset_button(self, t: float) -> None:
        self.advance_to(t)
        if not self.programming.press_reset_button(self.now):
            self._button("reset")
        self._programming_changed()

    def press_display_button(self, t: float) -> None:
        self.advance_to(t)
        self.programming.press_other_button(self.now)
        self._button("display")
        self._programming_changed()

    def _programming_changed(self) -> None:
        """Tell the components when the programming state begins or ends, and keep its time-out
        as an event. Manual 2.1.1: in programming mode the meter "will only process energy
        counting, demand calculating and time-section switch": the components that do other
        work (events = load monitoring, load profile, billing) stop while it lasts
        (``on_programming(now, active)``, optional like ``on_button``)."""
        was = self._prg_end is not None
        active = self.programming.in_programming(self.now)
        self._steady_since = self.now
        self._prg_end = self.programming.last_button + PROGRAMMING_TIMEOUT_S if active else None
        if active != was:
            for c in self.components:
                hook = getattr(c, "on_programming", None)
                if hook is not None:
                    hook(self.now, active)

    def _button(self, which: str) -> None:
        for c in self.components:
            hook = getattr(c, "on_button", None)
            if hook is not None:
                hook(self.now, which)

    def set_seal_open(self, t: float, open_: bool) -> None:
        self.advance_to(t)
        self.programming.seal_open = bool(open_)

    def in_programming(self) -> bool:
        return self.programming.in_programming(self.now)

    def set_condition(self, t: float, name: str, present: bool = True) -> None:
        """Inject (or remove) a hardware condition of ERR 2 at t (HARDWARE_CONDITIONS)."""
        if name not in HARDWARE_CONDITIONS:
            raise KeyError(
                f"unknown hardware condition {name!r}; known: {sorted(HARDWARE_CONDITIONS)}"
            )
        if name == "low_battery":
            self.set_battery_low(t, present)
            return
        self.advance_to(t)
        if present:
            self.conditions.add(name)
            self.err2 |= HARDWARE_CONDITIONS[name][0]
        else:
            self.conditions.discard(name)
        if name == "measuring_chip":
            self._update_rates()

    def set_battery_low(self, t: float, low: bool) -> None:
        self.advance_to(t)
        self.battery_low = bool(low)
        if low:
            self.err2 |= ERR2_LOW_BATTERY
        else:
            self.err2 &= ~ERR2_LOW_BATTERY

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> dict[str, Any]:
        """The non-volatile state at ``now`` (JSON-able)."""
        return {
            "saved_at": self.now,
            "energy": self.energy.snapshot(self.now),
            "tariff": self.tariff,
            "clock": self.clock.snapshot(),
            "tou": self.tou.to_obj(),
            "constants": dict(self.constants),
            "identity": dict(self.identity),
            "err1": self.err1,
            "err2": self.err2,
            "programming": self.programming.snapshot(),
            "last_clock_set_meter_s": self.last_clock_set_meter_s,
            "last_tou_change_meter_s": self.last_tou_change_meter_s,
            "components": {c.name: c.snapshot() for c in self.components},
        }

    def restore(self, d: dict[str, Any]) -> None:
        """Load a snapshot (power-up from non-volatile memory). Inputs are not state."""
        self._fold_pulses()  # constants and registers change: the edges so far are kept
        self.clock.restore(d["clock"])
        self.tou = TouTables.from_obj(d["tou"])
        self.constants = {k: int(v) for k, v in d["constants"].items()}
        self.identity = {k: str(v) for k, v in d["identity"].items()}
        self.err1 = int(d.get("err1", 0))
        self.err2 = int(d.get("err2", 0))
        self.programming.restore(d.get("programming", {}))
        self.last_clock_set_meter_s = d.get("last_clock_set_meter_s")
        self.last_tou_change_meter_s = d.get("last_tou_change_meter_s")
        self.tariff = int(d.get("tariff", 1))
        self.energy.restore(self.now, d["energy"], self.tariff)
        self._saved_energy = d["energy"]
        comps = d.get("components", {})
        for c in self.components:
            if c.name in comps:
                c.restore(comps[c.name])
        self._update_rates()

    def save(self) -> None:
        """Periodic / explicit save of the non-volatile state (atomic when a store is set)."""
        self._last_save = self.now
        if self.store is None:
            if self.defects.lose_energy_at_power_down:
                self._saved_energy = self.energy.snapshot(self.now)
            return  # nothing to write; a snapshot costs time on every periodic tick
        if "eeprom" in self.conditions:
            log.warning("A1000 state not saved: EEPROM write error (ERR 2 bit 0x04)")
            return
        snap = self.snapshot()
        self._saved_energy = snap["energy"]
        self.store.save(snap)

    def _power_down_save(self) -> None:
        if self.defects.lose_energy_at_power_down:
            # Defect: the power-down save never happens; on power-up the registers come
            # from the last periodic save. The outputs did emit their edges meanwhile.
            self._fold_pulses()
            self.energy.restore(self.now, self._saved_energy, self.tariff)
            self._update_rates()
            return
        self.save()

    def _load_state(self) -> None:
        assert self.store is not None
        loaded = self.store.load()
        self.load_report = loaded.reason
        if loaded.payload is not None:
            self.restore(loaded.payload)
            self._last_save = self.now
        if loaded.damaged:
            log.warning("A1000 state damaged (%s); ERR 2 EEPROM bit set", loaded.reason)
            self.err2 |= ERR2_EEPROM

    def close(self) -> None:
        """Clean shutdown: bring the state file up to date."""
        self.save()

    # ------------------------------------------------------------------ protocol

    def register_bank(self, time_source: Callable[[], float] | None = None) -> A1000RegisterBank:
        """The IEC 62056-21 RegisterBank of this meter (docs/conventions.md 3).

        ``time_source`` gives "now" (virtual or wall time); the bank advances the model to it
        before answering. Without one the bank answers at ``self.now``.
        """
        if time_source is not None or self._bank is None:
            self._bank = A1000RegisterBank(self, time_source)
        return self._bank

    @property
    def error_register(self) -> int:
        """F.F: ERR 1 in the high byte, ERR 2 in the low byte."""
        return (self.err1 << 8) | self.err2
