"""Events and warning/error flags of the A1000 (manual 2.1.2 display codes 03, 10..14, 19..24,
30..35 and Appendix B).

Event types, each with a cumulative count, a cumulative duration and the start and stop
date-time of the last `KEEP` occurrences:

    voltage loss L1/L2/L3      (display 10, 13, 14; energy during it: 11, 12)
    phase failure L1/L2/L3     (display 20, 23, 24; energy during it: 21, 22)
    over current L1/L2/L3      (display 30, 31; count 035)
    all-phase voltage loss     (display 19)
    reverse run                (display 32, 33; count 036)
    power down                 (display 34, 35; count 037, duration 038)
    one-phase / two-phase failure (display 201, 202): exactly one / two phases in phase failure

Detection (defaults in `EventThresholds`, each a configuration value):

* voltage loss: phase voltage below 78 % Un while its current is above 0.5 % In, for 60 s; it
  ends when the voltage is back above 85 % Un (or the current falls below the limit) for 60 s.
* phase failure: phase voltage below 60 % Un and its current below 0.5 % In, for 60 s.
* over current: phase current above 1.2 Imax for 60 s.
* all-phase voltage loss: all three voltages below 60 % Un while any current is above 5 % In,
  for 60 s. It is detected whatever the power state (the meter runs on its battery, manual 3.2.5).
* reverse run: total active power flowing in the export direction above 0.5 % of 3 Un In,
  for 60 s.
* power down: from the core's power-down to power-up (no debounce; the supply monitor is the
  debounce).

Sources of the defaults: the voltage-loss, phase-failure and over-current figures (78 %/85 % Un,
0.5 % In, 60 %, 1.2 Imax, 60 s) are those of the project brief, matching the defaults of State
Grid of China smart-meter event rules (Q/GDW 1354 family, the A1000's home market) [L,
recollection]; all-phase voltage loss (60 % Un, 5 % In) and reverse run (0.5 % of Pn) follow the
same family [L]. Warning thresholds: over/under voltage at the limits of the extended operating
range 0.8..1.15 Un (standards.md 5.1 [M]); missing current: current below 0.5 % In (starting
region) on a phase with voltage above 70 % Un while another phase carries more than 5 % In [L].

Debounce timers are events of the loop: a condition that becomes true at t is confirmed at
exactly t + delay, unless it clears before; start and stop time stamps are the confirmation times
(meter clock), durations are counted in true seconds from start to stop. On power-down every
event in progress (other than all-phase voltage loss and power down) ends at the power-down
time and pending timers are dropped; detection restarts at power-up from the inputs then present.

ERR 1 warning bits and ERR 2 error bits (Appendix B), one bit per condition, live:

    ERR 1: 0x01 over voltage, 0x02 under voltage, 0x04 phase voltage loss (a voltage-loss event in
           progress), 0x08 phase failure (a phase-failure event in progress), 0x10 current
           reversal (phases disagree on the direction of active power), 0x20 energy reversal
           (total active power exported), 0x40 missing current, 0x80 phase sequence reversal
           (voltages present on all phases in the order L1, L3, L2). Under voltage is not
           shown for a phase whose voltage-loss event is in progress.
    ERR 2 (clock, EEPROM, measuring chip, CPU, low battery, SPI) is hardware state kept by the
           core (`A1000.err2`); this module computes ERR 1 and hands it to the core (`A1000.err1`),
           which serves F.F, F.F.1 and F.F.2.

Shown as the manual describes: `err1_text()` -> "0000 0101" for missing voltage plus over voltage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from meter.a1000.clock import MeterClock, meter_datetime
from meter.a1000.component import (
    IDLE,
    ComponentBase,
    DisplayValue,
    Repeat,
    config_section,
    defect_names,
    register_defects,
)
from meter.a1000.obis_rows import ObisRow
from meter.iec62056_21.bank import Value

KEEP = 10  # last occurrences kept per event type

# ERR 1 warning bits (Appendix B)
OVER_VOLTAGE = 0x01
UNDER_VOLTAGE = 0x02
PHASE_VOLTAGE_LOSS = 0x04
PHASE_FAILURE = 0x08
CURRENT_REVERSAL = 0x10
ENERGY_REVERSAL = 0x20
MISSING_CURRENT = 0x40
PHASE_SEQUENCE_REVERSAL = 0x80

PHASES = "ABC"
# Per phase: the keys of its voltage loss, phase failure and over current (built once: the
# detection runs at every input change of every meter).
_PHASE_KEYS = tuple(
    (f"voltage_loss_{ph}", f"phase_failure_{ph}", f"over_current_{ph}") for ph in PHASES
)
_VOLTAGE_LOSS_KEYS = tuple(keys[0] for keys in _PHASE_KEYS)
_PHASE_FAILURE_KEYS = tuple(keys[1] for keys in _PHASE_KEYS)
# Event type keys and their manufacturer-specific index E in C.60.E / C.61.E (see obis_rows).
EVENT_TYPES: tuple[str, ...] = (
    "voltage_loss_A", "voltage_loss_B", "voltage_loss_C",
    "phase_failure_A", "phase_failure_B", "phase_failure_C",
    "over_current_A", "over_current_B", "over_current_C",
    "all_phase_voltage_loss", "reverse_run", "power_down",
    "one_phase_failure", "two_phase_failure",
)

DEFECTS: dict[str, tuple[str, str]] = {
    "voltage_loss_missed": (
        "voltage loss is never detected",
        "event test (manual 2.1.2 codes 10, 13, 14): a 69 % Un dip with current for 120 s "
        "must count one voltage loss",
    ),
    "voltage_loss_debounce_wrong": (
        "the voltage-loss timer is not cancelled when the condition clears, so interrupted "
        "dips add up to an event",
        "event test: dips of 40 s separated by 10 s must not count a voltage loss (60 s "
        "debounce)",
    ),
}
register_defects(DEFECTS)


class EventConfigError(ValueError):
    """Rejected event thresholds."""


@dataclass(frozen=True)
class EventThresholds:
    """Detection thresholds (fractions of Un, In, Imax) and debounce times (s). See module doc."""

    voltage_loss_u: float = 0.78
    voltage_loss_recover_u: float = 0.85
    voltage_loss_i: float = 0.005
    voltage_loss_delay_s: float = 60.0
    phase_failure_u: float = 0.60
    phase_failure_i: float = 0.005
    phase_failure_delay_s: float = 60.0
    over_current_imax: float = 1.2
    over_current_delay_s: float = 60.0
    all_loss_u: float = 0.60
    all_loss_i: float = 0.05
    all_loss_delay_s: float = 60.0
    reverse_p: float = 0.005  # of 3 Un In
    reverse_delay_s: float = 60.0
    over_voltage_u: float = 1.15
    under_voltage_u: float = 0.80
    missing_current_i: float = 0.005
    missing_current_u: float = 0.70
    missing_current_other_i: float = 0.05

    def __post_init__(self) -> None:
        for name, v in asdict(self).items():
            if not isinstance(v, (int, float)) or v < 0:
                raise EventConfigError(f"event threshold {name}={v!r}: must be a number >= 0")
        if self.voltage_loss_recover_u < self.voltage_loss_u:
            raise EventConfigError(
                "event threshold voltage_loss_recover_u must not be below voltage_loss_u"
            )
        if self.under_voltage_u >= self.over_voltage_u:
            raise EventConfigError("event threshold under_voltage_u must be below over_voltage_u")


@dataclass(frozen=True)
class Observation:
    """What event detection needs from the instantaneous measurements."""

    u: tuple[float, float, float]  # phase voltages, V
    i: tuple[float, float, float]  # phase currents, A
    p: tuple[float, float, float]  # phase active powers, W (+ import)
    p_total: float  # W
    u_angle: tuple[float, float, float] | None = None  # voltage phasor angles, deg, if known
    current_measured: tuple[bool, bool, bool] = (True, True, True)  # 3P3W: no L2 element


class EventLog:
    """Count, cumulative duration and the last KEEP occurrences (start, stop) of one event type."""

    def __init__(self) -> None:
        self.count = 0
        self.closed_duration = 0.0  # true seconds of ended occurrences
        self.active_since: float | None = None  # true time of the start of the one in progress
        self.occurrences: deque[list[float | None]] = deque(maxlen=KEEP)  # [start_m, stop_m]
        self.energy_import = 0.0  # kWh during the event (voltage loss / phase failure)
        self.energy_export = 0.0

    @property
    def active(self) -> bool:
        return self.active_since is not None

    def start(self, t: float, meter_s: float) -> None:
        if self.active_since is None:
            self.count += 1
            self.active_since = t
            self.occurrences.append([meter_s, None])

    def stop(self, t: float, meter_s: float) -> None:
        if self.active_since is not None:
            self.closed_duration += t - self.active_since
            self.active_since = None
            self.occurrences[-1][1] = meter_s

    def duration(self, t: float) -> float:
        ongoing = 0.0 if self.active_since is None else t - self.active_since
        return self.closed_duration + ongoing

    def latest(self, n: int = 1) -> tuple[float | None, float | None] | None:
        """(start, stop) meter times of the n-th latest occurrence (1 = latest)."""
        if not 1 <= n <= len(self.occurrences):
            return None
        s, e = self.occurrences[-n]
        return s, e

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "closed": self.closed_duration, "since": self.active_since,
                "occ": list(self.occurrences), "ei": self.energy_import, "ee": self.energy_export}

    def from_json(self, d: dict[str, Any]) -> None:
        self.count, self.closed_duration = d["count"], d["closed"]
        self.active_since = d["since"]
        self.occurrences = deque((list(o) for o in d["occ"]), maxlen=KEEP)
        self.energy_import, self.energy_export = d["ei"], d["ee"]


class _Detector:
    """Debounced condition: `raw` from the inputs, `active` after `delay` of persistence."""

    __slots__ = ("active", "delay", "pending", "raw", "sticky")

    def __init__(self, delay: float, sticky: bool = False) -> None:
        self.delay = delay
        self.raw = False
        self.active = False
        self.pending: float | None = None  # true time at which `active` flips to `raw`
        self.sticky = sticky  # defect: a started timer is not cancelled

    def update(self, t: float, raw: bool) -> None:
        if raw == self.raw:
            return
        self.raw = raw
        if raw == self.active:
            if not self.sticky:
                self.pending = None
        elif self.pending is None or not self.sticky:
            self.pending = t + self.delay


class EventMonitor:
    """Pure event logic. `t` is true time (durations, timers), `meter_s` the clock reading."""

    def __init__(self, thresholds: EventThresholds, un: float, in_a: float, imax_a: float,
                 defects: frozenset[str] = frozenset(),
                 to_meter: Callable[[float], float] = float) -> None:
        self.th = thresholds
        self.to_meter = to_meter  # true time -> meter clock reading, for the time stamps
        self.un, self.in_a, self.imax_a = un, in_a, imax_a
        self.defects = frozenset(defects) & set(DEFECTS)
        th = thresholds
        sticky = "voltage_loss_debounce_wrong" in self.defects
        self.det: dict[str, _Detector] = {}
        for ph in PHASES:
            self.det[f"voltage_loss_{ph}"] = _Detector(th.voltage_loss_delay_s, sticky)
            self.det[f"phase_failure_{ph}"] = _Detector(th.phase_failure_delay_s)
            self.det[f"over_current_{ph}"] = _Detector(th.over_current_delay_s)
        self.det["all_phase_voltage_loss"] = _Detector(th.all_loss_delay_s)
        self.det["reverse_run"] = _Detector(th.reverse_delay_s)
        self.logs: dict[str, EventLog] = {k: EventLog() for k in EVENT_TYPES}
        self.powered = True
        self.suspended = False  # programming mode: no load monitoring (manual 2.1.1)
        self.obs: Observation | None = None
        self._due: float | None = None
        self._energy_logs: list[tuple[int, EventLog]] = []

    # -- detection ---------------------------------------------------------------------------

    def _raw(self, o: Observation) -> dict[str, bool]:
        th, un, i_n = self.th, self.un, self.in_a
        raw: dict[str, bool] = {}
        for k, (vl_key, pf_key, oc_key) in enumerate(_PHASE_KEYS):
            u, i = o.u[k], o.i[k]
            measured = o.current_measured[k]
            vl_active = self.logs[vl_key].active
            u_limit = th.voltage_loss_recover_u if vl_active else th.voltage_loss_u
            raw[vl_key] = (
                "voltage_loss_missed" not in self.defects and measured
                and u < u_limit * un and i > th.voltage_loss_i * i_n
            )
            raw[pf_key] = (
                u < th.phase_failure_u * un and (not measured or i < th.phase_failure_i * i_n)
            )
            raw[oc_key] = measured and i > th.over_current_imax * self.imax_a
        raw["all_phase_voltage_loss"] = (
            all(u < th.all_loss_u * un for u in o.u) and max(o.i) > th.all_loss_i * i_n
        )
        raw["reverse_run"] = -o.p_total > th.reverse_p * 3 * un * i_n
        return raw

    def observe(self, t: float, o: Observation) -> None:
        """Inputs changed at t: update the raw conditions (timers start or are cancelled)."""
        self.fire(t)
        self.obs = o
        raw = self._raw(o)
        if self.suspended:
            self._refresh()
            return
        for k, d in self.det.items():
            if self.powered or k == "all_phase_voltage_loss":
                d.update(t, raw[k])
        self._refresh()

    def next_due(self) -> float | None:
        return self._due

    def _refresh(self) -> None:
        """Cache the earliest pending timer and the logs collecting energy (speed: the loop asks
        for both at every event and span)."""
        pend = [d.pending for d in self.det.values() if d.pending is not None]
        self._due = min(pend) if pend else None
        self._energy_logs = [
            (k, log) for k, (vl_key, pf_key, _) in enumerate(_PHASE_KEYS)
            for log in (self.logs[vl_key], self.logs[pf_key])
            if log.active_since is not None
        ]

    def fire(self, t: float) -> bool:
        """Confirm every timer due at or before t, each stamped with its own exact time; False
        when none was due (nothing changed)."""
        if self._due is None or self._due > t:
            return False
        try:
            self._fire(t)
        finally:
            self._refresh()
        return True

    def _fire(self, t: float) -> None:
        while True:
            due = [d.pending for d in self.det.values() if d.pending is not None and d.pending <= t]
            if not due:
                return
            tp = min(due)
            ms = self.to_meter(tp)
            phases_changed = False
            # Timers due at the same instant are confirmed together (one-/two-phase counting).
            for k, d in self.det.items():
                if d.pending != tp:
                    continue
                d.pending = None
                new = d.raw if not d.sticky else not d.active
                if new == d.active:
                    continue
                d.active = new
                if new:
                    self.logs[k].start(tp, ms)
                else:
                    self.logs[k].stop(tp, ms)
                if d.sticky and d.raw != d.active:
                    d.pending = tp + d.delay
                phases_changed |= k.startswith("phase_failure_")
                if k.startswith("voltage_loss_") and self.obs is not None and not d.sticky:
                    # The recovery threshold differs from the start threshold (hysteresis).
                    d.update(tp, self._raw(self.obs)[k])
            if phases_changed:
                self._phase_count_changed(tp, ms)

    def _phase_count_changed(self, t: float, meter_s: float) -> None:
        n = sum(self.logs[f"phase_failure_{ph}"].active for ph in PHASES)
        for key, want in (("one_phase_failure", 1), ("two_phase_failure", 2)):
            log = self.logs[key]
            if n == want:
                log.start(t, meter_s)
            else:
                log.stop(t, meter_s)

    @property
    def collects_energy(self) -> bool:
        """Is an event in progress collecting the energy of every span?"""
        return bool(self._energy_logs)

    def add_energy(self, phase_import: tuple[float, ...], phase_export: tuple[float, ...]) -> None:
        for k, log in self._energy_logs:
            log.energy_import += phase_import[k]
            log.energy_export += phase_export[k]

    def power(self, t: float, up: bool) -> None:
        self.fire(t)
        if up == self.powered:
            return
        self.powered = up
        meter_s = self.to_meter(t)
        pd = self.logs["power_down"]
        if not up:
            pd.start(t, meter_s)
            self._end_all(t, meter_s, keep=("all_phase_voltage_loss",))
        else:
            pd.stop(t, meter_s)
            self._restart(t, keep=("all_phase_voltage_loss",))
        self._refresh()

    def suspend(self, t: float, on: bool) -> None:
        """Programming mode (manual 2.1.1: no "load monitoring" while it lasts): every event in
        progress ends at t and detection stops; at the end it restarts from the inputs then
        present, as after a power-up (choice: the manual says only that monitoring is not
        handled, so nothing is carried across)."""
        self.fire(t)
        if on == self.suspended:
            return
        self.suspended = on
        if on:
            self._end_all(t, self.to_meter(t), keep=())
        elif self.powered:
            self._restart(t, keep=("all_phase_voltage_loss",))
        self._refresh()

    def _end_all(self, t: float, meter_s: float, keep: tuple[str, ...]) -> None:
        for k, d in self.det.items():
            if k in keep:
                continue
            if d.active:
                self.logs[k].stop(t, meter_s)
            d.active, d.raw, d.pending = False, False, None
        for key in ("one_phase_failure", "two_phase_failure"):
            self.logs[key].stop(t, meter_s)

    def _restart(self, t: float, keep: tuple[str, ...]) -> None:
        if self.obs is None or self.suspended:
            return
        raw = self._raw(self.obs)
        for k, d in self.det.items():
            if k not in keep:
                d.update(t, raw[k])

    # -- flags -------------------------------------------------------------------------------

    def err1(self) -> int:
        """ERR 1 warning bits (Appendix B), live; none in programming mode (no monitoring)."""
        bits = 0
        if self.suspended:
            return bits
        loss = [self.logs[key].active for key in _VOLTAGE_LOSS_KEYS]
        if any(loss):
            bits |= PHASE_VOLTAGE_LOSS
        if any(self.logs[key].active for key in _PHASE_FAILURE_KEYS):
            bits |= PHASE_FAILURE
        o = self.obs
        if o is None or not self.powered:
            return bits
        th, un, i_n = self.th, self.un, self.in_a
        if any(u > th.over_voltage_u * un for u in o.u):
            bits |= OVER_VOLTAGE
        # A phase in voltage loss shows that bit, not also under voltage (one bit per condition).
        if any(th.phase_failure_u * un <= u < th.under_voltage_u * un and not loss[k]
               for k, u in enumerate(o.u)):
            bits |= UNDER_VOLTAGE
        for k in range(3):
            others = [o.i[j] for j in range(3) if j != k and o.current_measured[j]]
            if (o.current_measured[k] and o.u[k] > th.missing_current_u * un
                    and o.i[k] < th.missing_current_i * i_n
                    and any(x > th.missing_current_other_i * i_n for x in others)):
                bits |= MISSING_CURRENT
        live = [p for k, p in enumerate(o.p)
                if o.current_measured[k] and o.i[k] > th.missing_current_i * i_n]
        if any(p > 0 for p in live) and any(p < 0 for p in live):
            bits |= CURRENT_REVERSAL
        if -o.p_total > th.reverse_p * 3 * un * i_n:
            bits |= ENERGY_REVERSAL
        if o.u_angle is not None and all(u >= th.phase_failure_u * un for u in o.u):
            # Positive sequence: L2 lags L1 by 120 deg (contracts 1). Reversed: L2 leads.
            lag = (o.u_angle[0] - o.u_angle[1]) % 360.0
            if 180.0 < lag < 360.0:
                bits |= PHASE_SEQUENCE_REVERSAL
        return bits

    # -- persistence -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "logs": {k: v.to_json() for k, v in self.logs.items()},
            "det": {k: [d.raw, d.active, d.pending] for k, d in self.det.items()},
            "powered": self.powered,
            "obs": None if self.obs is None else asdict(self.obs),
        }

    def restore(self, d: dict[str, Any]) -> None:
        for k, v in d["logs"].items():
            self.logs[k].from_json(v)
        for k, (raw, active, pending) in d["det"].items():
            det = self.det[k]
            det.raw, det.active, det.pending = raw, active, pending
        self.powered = d["powered"]
        o = d["obs"]
        self.obs = None if o is None else Observation(
            tuple(o["u"]), tuple(o["i"]), tuple(o["p"]), o["p_total"],
            None if o["u_angle"] is None else tuple(o["u_angle"]),
            tuple(o["current_measured"]))
        self._refresh()


def bits_text(bits: int) -> str:
    """Appendix B display form: 0x05 -> '0000 0101'."""
    b = f"{bits:08b}"
    return f"{b[:4]} {b[4:]}"


def stamp_full(meter_s: float | None) -> str:
    """YYMMDDhhmmss, or twelve zeros for 'never'."""
    if meter_s is None:
        return "000000000000"
    return meter_datetime(meter_s).strftime("%y%m%d%H%M%S")


def observation_from(m: Any, u_angles: tuple[float, float, float] | None = None) -> Observation:
    """Observation from the core's `Measurements` (meter.electrical)."""
    phases = m.phases
    three_wire = getattr(getattr(m, "wiring", None), "elements", 3) == 2
    pv = tuple(getattr(m, "phase_voltages", (0.0, 0.0, 0.0)))
    u = pv if any(pv) else tuple(e.voltage for e in phases)
    return Observation(
        u=(u[0], u[1], u[2]),
        i=(phases[0].current, phases[1].current, phases[2].current),
        p=(phases[0].p, phases[1].p, phases[2].p),
        p_total=m.p,
        u_angle=u_angles if u_angles is not None else getattr(m, "voltage_angles", None),
        current_measured=(True, not three_wire, True),
    )


class EventsComponent(ComponentBase):
    """Event-loop component (contracts 4) around `EventMonitor`.

    `angles` (optional) gives the voltage phasor angles of the inputs in force (phase sequence);
    `publish_err1` (optional) receives the live ERR 1 byte after every change;
    `error_registers` (optional) gives the meter's ERR 1 and ERR 2 for the display."""

    name = "events"

    def __init__(self, clock: MeterClock, thresholds: EventThresholds, un: float, in_a: float,
                 imax_a: float, start_time: float, defects: frozenset[str] = frozenset(),
                 angles: Callable[[], tuple[float, float, float] | None] | None = None,
                 publish_err1: Callable[[int], None] | None = None,
                 error_registers: Callable[[], tuple[int, int]] | None = None) -> None:
        self.clock = clock
        self.monitor = EventMonitor(thresholds, un, in_a, imax_a, defects,
                                    to_meter=lambda t: self.clock.meter_seconds(t))
        self.angles = angles
        self.publish_err1 = publish_err1
        self.error_registers = error_registers  # the meter's (ERR 1, ERR 2) for the LCD
        # ERR 1 as last worked out; None once the monitor may have changed. It depends only on
        # the monitor's state, which changes only through the methods below: the loop lands on
        # every event and publishes each time, mostly with nothing changed since.
        self._err1: int | None = None

    def log(self, key: str) -> EventLog:
        """The record of one event type (`EVENT_TYPES`, e.g. 'voltage_loss_A'): count,
        duration, energies, latest occurrences; what the display shows of it."""
        return self.monitor.logs[key]

    def _fire(self, now: float) -> None:
        if self.monitor.fire(now):
            self._err1 = None

    def _publish(self) -> None:
        if self.publish_err1 is not None:
            if self._err1 is None:
                self._err1 = self.monitor.err1()
            self.publish_err1(self._err1)

    def next_event(self, now: float) -> float | None:
        return self.monitor.next_due()

    def accumulate(self, t0: float, t1: float, flow: Any) -> None:
        self.monitor.add_energy(flow.phase_import, flow.phase_export)

    def repeats(self, now: float, steady_since: float) -> Repeat | None:
        """Idle unless an event in progress collects energy span by span (then the loop goes
        event by event); its next confirmation bounds a fast-forward."""
        return None if self.monitor.collects_energy else IDLE

    def on_event(self, now: float) -> None:
        if self.monitor.next_due() is not None:
            self._fire(now)
            self._publish()

    def on_inputs(self, now: float, m: Any) -> None:
        angles = self.angles() if self.angles is not None else None
        self.observe(now, observation_from(m, angles))

    def observe(self, now: float, o: Observation) -> None:
        self._fire(now)
        self.monitor.observe(now, o)
        self._err1 = None
        self._publish()

    def on_power(self, now: float, up: bool) -> None:
        self._fire(now)
        self.monitor.power(now, up)
        self._err1 = None
        self._publish()

    def on_clock_set(self, now: float, old_meter_s: float, new_meter_s: float) -> None:
        self._fire(now)

    def on_tariff(self, now: float, old: int, new: int) -> None:
        self._fire(now)

    def on_programming(self, now: float, active: bool) -> None:
        self.monitor.suspend(now, active)
        self._err1 = None
        self._publish()

    def snapshot(self) -> dict[str, Any]:
        return self.monitor.snapshot()

    def restore(self, d: dict[str, Any]) -> None:
        self.monitor.restore(d)
        self._err1 = None
        self._publish()

    def display_items(self) -> dict[str, DisplayValue]:
        """Event counts and the power-down time (manual 2.1.2 item 7: 035..038) and the error
        registers as Appendix B shows them (ERR1, ERR2)."""
        logs = self.monitor.logs
        items: dict[str, DisplayValue] = {
            "035": lambda now, rec: (
                str(sum(logs[f"over_current_{p}"].count for p in "ABC")), ""),
            "036": lambda now, rec: (str(logs["reverse_run"].count), ""),
            "037": lambda now, rec: (str(logs["power_down"].count), ""),
            "038": lambda now, rec: (str(int(logs["power_down"].duration(now) // 60)), "min"),
        }
        errors = self.error_registers
        if errors is not None:
            items["ERR1"] = lambda now, rec: (bits_text(errors()[0]), "")
            items["ERR2"] = lambda now, rec: (bits_text(errors()[1]), "")
        return items

    def obis_rows(self) -> list[ObisRow]:
        """Standard codes where one fits (standards.md 7.1), manufacturer codes C.60..C.63 else.

        C.60.E (count)(cumulative duration s); C.61.E[*n] (start)(stop) YYMMDDhhmmss of the n-th
        latest occurrence (n = 1..10, none = latest); E = 1-based index in EVENT_TYPES;
        C.63.E (import kWh)(export kWh) during voltage loss (E = 1..3) / phase failure (E = 4..6).
        """
        mon = self.monitor
        rows: list[ObisRow] = []
        man = "manual 2.1.2 codes 10-35 (manufacturer-specific C.60/C.61/C.63)"
        for e, key in enumerate(EVENT_TYPES, start=1):
            log = mon.logs[key]
            rows.append(ObisRow(
                f"C.60.{e}", f"{key}: count, cumulative duration", None, man,
                lambda m, log=log: (f"{log.count}", Value(f"{round(log.duration(m.now))}", "s")),
                readout=True))
            for n in range(1, KEEP + 1):
                addr = f"C.61.{e}" if n == 1 else f"C.61.{e}*{n}"
                rows.append(ObisRow(addr, f"{key}: start, stop YYMMDDhhmmss (occurrence {n})",
                                    None, man, lambda _m, log=log, n=n: _start_stop(log, n),
                                    readout=(n == 1)))
        for e, key in enumerate(EVENT_TYPES[:6], start=1):
            log = mon.logs[key]
            rows.append(ObisRow(
                f"C.63.{e}", f"{key}: import, export energy during the event", "kWh", man,
                lambda _m, log=log: (f"{log.energy_import:.2f}",
                                     Value(f"{log.energy_export:.2f}", "kWh")),
                readout=True))
        std = "standards.md 7.1 (GX D 31-42)"
        for k, c in enumerate((32, 52, 72)):
            ph, ln, ci = PHASES[k], f"L{k + 1}", c - 1
            vl, pf = mon.logs[f"voltage_loss_{ph}"], mon.logs[f"phase_failure_{ph}"]
            oc = mon.logs[f"over_current_{ph}"]
            rows += [
                ObisRow(f"1-1:{c}.31.0", f"Voltage loss threshold {ln}", "V", std,
                        lambda _m: (f"{mon.th.voltage_loss_u * mon.un:.1f}",)),
                ObisRow(f"1-1:{c}.32.0", f"Voltage loss (sag) count {ln}", None, std,
                        lambda _m, log=vl: (f"{log.count}",)),
                ObisRow(f"1-1:{c}.33.0", f"Voltage loss cumulative duration {ln}", "s", std,
                        lambda m, log=vl: (f"{round(log.duration(m.now))}",)),
                ObisRow(f"1-1:{c}.39.0", f"Phase failure threshold {ln}", "V", std,
                        lambda _m: (f"{mon.th.phase_failure_u * mon.un:.1f}",)),
                ObisRow(f"1-1:{c}.40.0", f"Phase failure (voltage missing) count {ln}", None, std,
                        lambda _m, log=pf: (f"{log.count}",)),
                ObisRow(f"1-1:{c}.41.0", f"Phase failure cumulative duration {ln}", "s", std,
                        lambda m, log=pf: (f"{round(log.duration(m.now))}",)),
                ObisRow(f"1-1:{ci}.35.0", f"Over current threshold {ln}", "A", std,
                        lambda _m: (f"{mon.th.over_current_imax * mon.imax_a:.3f}",)),
                ObisRow(f"1-1:{ci}.36.0", f"Over current count {ln}", None, std,
                        lambda _m, log=oc: (f"{log.count}",)),
                ObisRow(f"1-1:{ci}.37.0", f"Over current cumulative duration {ln}", "s", std,
                        lambda m, log=oc: (f"{round(log.duration(m.now))}",)),
                ObisRow(f"C.7.{k + 1}", f"Phase failures {ln}", None,
                        "standards.md 6.8, 7.1 (C.7.1..3)", lambda _m, log=pf: (f"{log.count}",),
                        readout=True),
            ]
        pd = mon.logs["power_down"]
        rows += [
            ObisRow("C.7.0", "Power failures (power down) count", None,
                    "manual code 037; standards.md 7.1", lambda _m: (f"{pd.count}",),
                    readout=True),
            ObisRow("C.7.10", "Latest power failure: start, stop YYMMDDhhmmss", None,
                    "manual codes 340/350; standards.md 7.1 (C.7.10..14)",
                    lambda _m: _start_stop(pd, 1), readout=True),
            ObisRow("C.7.15", "Cumulative power-down duration", "s",
                    "manual code 038; standards.md 7.1 (C.7.15..19)",
                    lambda m: (f"{round(pd.duration(m.now))}",), readout=True),
        ]
        return rows


def make_events(meter: Any) -> EventsComponent:
    """Factory for the core's COMPONENT_FACTORIES: thresholds from the `events:` configuration
    section (field names of EventThresholds), Un = nominal phase voltage, In and Imax of the
    configuration."""
    cfg = meter.config
    try:
        th = EventThresholds(**config_section(cfg, "events"))
    except TypeError as e:
        raise EventConfigError(f"events configuration: {e}") from None

    def angles() -> tuple[float, float, float]:
        ph = meter.inputs.phases
        return (ph[0].voltage.angle_deg, ph[1].voltage.angle_deg, ph[2].voltage.angle_deg)

    def publish(bits: int) -> None:
        meter.err1 = bits

    comp = EventsComponent(meter.clock, th, cfg.nominal.phase_voltage, cfg.in_a, cfg.imax_a,
                           meter.now, frozenset(defect_names(meter)) & set(DEFECTS),
                           angles, publish, lambda: (meter.err1, meter.err2))
    comp.monitor.powered = meter.powered  # a new meter starts without supply: no event logged
    return comp


def _start_stop(log: EventLog, n: int) -> tuple[str, ...]:
    occ = log.latest(n)
    s, e = occ if occ is not None else (None, None)
    return (stamp_full(s), stamp_full(e))
