"""One software A1000 served in (scaled) wall-clock time: `python -m meter serve`.

The meter's true time is `start + speed x (wall - start)`: `--speed N` runs its clock, demand
periods, billing dates and load profile N times faster than the wall clock, while the IEC
62056-21 server keeps real protocol timing (reaction times, time-outs are wall seconds). A
ticker advances the model every second of wall time (saving when due); every protocol and
control request first brings it to the present.

The control endpoint (`--control HOST:PORT`, meter.control) offers the operations of the
simulated bench's meters: buttons, seal, the inputs per phase, defects, ERR 2 conditions,
display text and pulse counts. Holding the reset button takes its time: the request returns
after `seconds / speed` of wall time, the button released at the present.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from meter.a1000.config import PROGRAMMING_HOLD_S, MeterConfig
from meter.a1000.meter import A1000
from meter.a1000.registers import PulseOutput
from meter.control import (
    ControlError,
    CurrentBank,
    describe_inputs,
    display_text,
    inputs_with,
    meter_action,
    with_defects,
)

TICK_S = 1.0  # the wall-clock loop advances the model (and saves when due) this often


class StandaloneMeter:
    """The meter, its time, its IEC 62056-21 bank (``bank``) and its control operations."""

    def __init__(self, config: MeterConfig, state_dir: Path | None, speed: float = 1.0,
                 start: float | None = None, programming: bool = False) -> None:
        if not speed > 0:
            raise ValueError(f"--speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self.start = time.time() if start is None else start
        self.lock = threading.RLock()  # one lock for the model: server, ticker and control
        self.meter = A1000(config, start_time=self.start, state_dir=state_dir)
        self.meter.set_inputs(self.start, config.load_inputs())
        self._pulse_base = dict.fromkeys(PulseOutput, 0)  # edges of meters swapped out
        self._stop = threading.Event()
        # The bank of whichever meter is in place (a defect swaps it), at the meter's time.
        self.bank = CurrentBank(lambda: self.meter, self.now, self.lock)
        if programming:
            # As if the seal were opened and the reset button held 8 s (manual 2.2.1): the
            # programming state begins now and ends as the manual says (a reset press, or
            # 4 minutes of meter time without a button).
            self.meter.set_seal_open(self.start, True)
            self.meter.hold_reset_button(self.start - PROGRAMMING_HOLD_S, PROGRAMMING_HOLD_S)

    def now(self) -> float:
        """The meter's true time."""
        return self.start + (time.time() - self.start) * self.speed

    def sync(self) -> None:
        with self.lock:
            self.bank.current().sync()

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            self.sync()
            self.meter.close()

    # -- control -----------------------------------------------------------------------------
    def call(self, request: dict[str, Any]) -> Any:
        """One control request (meter.control wire format)."""
        op = request.get("op")
        args = {k: v for k, v in request.items() if k not in ("op", "position")}
        if request.get("position", 1) != 1:
            raise ControlError("a standalone meter has position 1 only")
        if op == "time":
            return self.now()
        if op == "meter":
            return self.action(**args)
        if op == "display":
            return self.action("display_text")
        if op == "pulses":
            return self.pulses()
        if op == "inputs":
            return self.set_inputs(**args)
        raise ControlError(f"unknown op {op!r} (time, meter, display, pulses, inputs)")

    def action(self, action: str, **kw: Any) -> Any:
        if action == "hold_reset":
            seconds = float(kw.get("seconds", PROGRAMMING_HOLD_S))
            if not 0 <= seconds <= 3600:
                raise ControlError(f"hold_reset: seconds must be 0..3600, got {seconds}")
            if self._stop.wait(seconds / self.speed):
                raise ControlError("the meter is stopping")
            with self.lock:
                t = max(self.now(), self.meter.now)
                return self.meter.hold_reset_button(t - seconds, seconds)
        with self.lock:
            t = max(self.now(), self.meter.now)
            if action == "defect":
                return self._swap_in_defects(t, list(kw.get("defects") or []))
            if action == "display_text":
                self.meter.advance_to(t)
                return display_text(self.meter, t)
            return meter_action(self.meter, t, action, **kw)

    def _swap_in_defects(self, t: float, defects: list[Any]) -> list[str]:
        old = self.meter
        old.advance_to(t)
        outputs = list(PulseOutput)
        for o, n in zip(outputs, old.pulses_emitted(outputs, t), strict=True):
            self._pulse_base[o] += n
        new = with_defects(old, t, defects)
        new.set_inputs(t, old.inputs)
        self.meter = new
        return list(new.defects.names)

    def set_inputs(self, phase: int | None = None, **values: float | None) -> dict[str, Any]:
        with self.lock:
            t = max(self.now(), self.meter.now)
            inputs = inputs_with(self.meter.inputs, phase, **values)
            self.meter.set_inputs(t, inputs)
            return describe_inputs(inputs)

    def pulses(self) -> dict[str, int]:
        """Rising edges of every output and LED since the start (manual 1.1)."""
        with self.lock:
            t = max(self.now(), self.meter.now)
            self.meter.advance_to(t)
            outputs = list(PulseOutput)
            counts = self.meter.pulses_emitted(outputs, t)
            return {o.value: self._pulse_base[o] + n
                    for o, n in zip(outputs, counts, strict=True)}

    # -- the wall-clock loop -----------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Advance the model every TICK_S of wall time until `stop` is set."""
        while not stop.wait(TICK_S):
            self.sync()
