"""Control of a software meter from outside: what a person at the meter does and sees.

No real meter has this. It is the meter part of the simulated bench's control endpoint
(rig.sim.control uses `meter_action` and `with_defects`) and the whole control endpoint of the
standalone meter (`python -m meter serve --control HOST:PORT`, see meter.standalone).

Wire format (the simulated bench's): one JSON object per line over TCP, request
`{"op": ..., ...}`, reply `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`.
`MeterControl` is the Python client; `python -m meter control ADDR ...` the command line.

Meter actions (`{"op": "meter", "action": ..., ...}`, the same names as the bench's
`meter {position, action}`): display_button, reset_button, hold_reset {seconds}, seal_open
{open}, battery_low {low}, condition {name, present} (ERR 2 hardware conditions,
meter.a1000.meter.HARDWARE_CONDITIONS), defect {defects}, display_text, register {quantity,
tariff}, in_programming, error_register, powered.
"""

from __future__ import annotations

import json
import math
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any, Self

from meter.electrical import ElectricalInputs, PhaseInput, Phasor

ACTIONS = (
    "display_button", "reset_button", "hold_reset", "seal_open", "battery_low", "condition",
    "defect", "display_text", "register", "in_programming", "error_register", "powered",
)
MAX_LINE = 65536  # a control request longer than this is refused (and the connection closed)


#: The longest a hand holds a button: PRG takes 8 s (A1000 manual 2.2.1).
MAX_HOLD_S = 600.0


class ControlError(Exception):
    """The meter refused a control request (the message says why)."""


def meter_action(meter: Any, t: float, action: str, **kw: Any) -> Any:
    """Carry out one meter action at true time t (``defect`` is left to the caller, which
    must put the new meter in place: see ``with_defects``)."""
    if action == "display_button":
        return meter.press_display_button(t)
    if action == "reset_button":
        return meter.press_reset_button(t)
    if action == "hold_reset":
        seconds = float(kw.get("seconds", 8.0))
        if not math.isfinite(seconds):  # JSON 1e400 parses as infinity
            raise ControlError(f"hold_reset: seconds must be finite, got {seconds}")
        if not 0 <= seconds <= MAX_HOLD_S:  # else the meter would catch up on years
            raise ControlError(f"hold_reset: seconds {seconds:g} outside 0..{MAX_HOLD_S:g}")
        return meter.hold_reset_button(t, seconds)
    if action == "battery_low":
        return meter.set_battery_low(t, bool(kw.get("low", True)))
    if action == "seal_open":
        return meter.set_seal_open(t, bool(kw.get("open", True)))
    if action == "condition":
        if "name" not in kw:
            raise ControlError("condition needs a name (see HARDWARE_CONDITIONS)")
        return meter.set_condition(t, str(kw["name"]), bool(kw.get("present", True)))
    if action == "display_text":
        return display_text(meter, t)
    if action == "register":
        return meter.register(str(kw["quantity"]), int(kw.get("tariff", 0)))
    if action == "in_programming":
        return meter.in_programming()
    if action == "error_register":
        return meter.error_register
    if action == "powered":
        return bool(meter.powered)
    raise ControlError(f"unknown meter action {action!r} ({', '.join(ACTIONS)})")


def display_text(meter: Any, t: float) -> str:
    fn = getattr(meter, "display_text", None)
    if fn is not None:
        return str(fn())
    try:
        display = meter.component("display")
    except (AttributeError, KeyError):
        raise ControlError(f"{type(meter).__name__} has no display") from None
    return str(display.screen_text(t))


def with_defects(meter: Any, t: float, defects: list[Any]) -> Any:
    """The same model with `defects`, carrying the whole state over (snapshot/restore,
    docs/conventions.md 4), as if a faulty unit took the meter's place at t."""
    new = type(meter)(meter.config, start_time=t, state_dir=None, defects=defects)
    new.restore(meter.snapshot())
    new.store = getattr(meter, "store", None)
    return new


def inputs_with(current: ElectricalInputs, phase: int | None = None, **values: float | None
                ) -> ElectricalInputs:
    """`current` with some values replaced: u, i (rms), u_angle, i_angle (degrees) of one phase
    (1..3) or, without `phase`, of all three; frequency (Hz). Harmonics are kept."""
    unknown = set(values) - {"u", "i", "u_angle", "i_angle", "frequency"}
    if unknown:
        raise ControlError(f"inputs: unknown value(s) {sorted(unknown)} "
                           "(u, i, u_angle, i_angle, frequency)")
    if phase is not None and phase not in (1, 2, 3):
        raise ControlError(f"inputs: phase must be 1, 2 or 3, got {phase!r}")
    phases = list(current.phases)
    for k in range(3) if phase is None else (phase - 1,):
        p = phases[k]
        u, i = p.voltage, p.current

        def pick(name: str, old: float) -> float:
            v = values.get(name)
            return old if v is None else float(v)

        phases[k] = PhaseInput(
            Phasor(pick("u", u.rms), pick("u_angle", u.angle_deg)),
            Phasor(pick("i", i.rms), pick("i_angle", i.angle_deg)),
            p.harmonics,
        )
    freq = values.get("frequency")
    return ElectricalInputs(
        (phases[0], phases[1], phases[2]),
        current.frequency if freq is None else float(freq),
    )


def describe_inputs(inputs: ElectricalInputs) -> dict[str, Any]:
    return {
        "phases": [
            {"u": p.voltage.rms, "u_angle": p.voltage.angle_deg, "i": p.current.rms,
             "i_angle": p.current.angle_deg}
            for p in inputs.phases
        ],
        "frequency": inputs.frequency,
    }


# ---------------------------------------------------------------------- the endpoint


def answer(call: Callable[[dict[str, Any]], Any], raw: bytes | str) -> dict[str, Any]:
    """The reply object to one request line; never raises."""
    try:
        request = json.loads(raw, parse_constant=_no_constant)
    except ValueError as e:
        return {"ok": False, "error": f"request is not JSON: {e}"}
    if not isinstance(request, dict):
        return {"ok": False, "error": "request must be a JSON object"}
    try:
        return {"ok": True, "result": call(request)}
    except ControlError as e:
        return {"ok": False, "error": str(e)}
    except (ValueError, KeyError, TypeError) as e:
        return {"ok": False, "error": f"op {request.get('op')!r}: {e}"}
    except Exception as e:  # the endpoint must survive anything; report it
        return {"ok": False, "error": f"internal error: {type(e).__name__}: {e}"}


def _no_constant(name: str) -> float:
    """JSON has no NaN or Infinity (RFC 8259 6); Python's json would accept them."""
    raise ValueError(f"{name} is not a JSON number")


class ControlServer:
    """JSON lines over TCP (module doc); one thread per connection, `call(request)` answers."""

    def __init__(self, call: Callable[[dict[str, Any]], Any], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while True:
                    try:
                        raw = self.rfile.readline(MAX_LINE + 1)
                    except OSError:
                        return
                    if not raw:
                        return
                    if len(raw) > MAX_LINE:
                        self._send({"ok": False, "error": f"request over {MAX_LINE} bytes"})
                        return
                    if raw.strip() and not self._send(answer(call, raw)):
                        return

            def _send(self, reply: dict[str, Any]) -> bool:
                try:
                    self.wfile.write(json.dumps(reply).encode() + b"\n")
                    self.wfile.flush()
                except OSError:
                    return False
                return True

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, port), Handler)
        h, p = self._server.server_address[:2]
        self.address = f"{h}:{p}"
        self._thread: threading.Thread | None = None

    def start(self) -> ControlServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.2}, name=f"meter control {self.address}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"control address {address!r}: expected HOST:PORT")
    return host, int(port)


class JsonLinesClient:
    """Client of a JSON-lines control endpoint (module doc): one request at a time; a refusal
    raises ControlError with the endpoint's message."""

    def __init__(self, address: str | tuple[str, int], timeout_s: float = 30.0) -> None:
        self.address = address if isinstance(address, tuple) else parse_address(address)
        self._sock = socket.create_connection(self.address, timeout=timeout_s)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rwb")
        self._lock = threading.Lock()

    def request(self, op: str, **args: Any) -> Any:
        line = json.dumps({"op": op, **args}).encode() + b"\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            raw = self._file.readline()
        if not raw:
            raise ConnectionError(f"control endpoint {self.address} closed the connection")
        reply = json.loads(raw)
        if not reply.get("ok"):
            raise ControlError(reply.get("error", "unknown error"))
        return reply.get("result")

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MeterControl(JsonLinesClient):
    """Client of a standalone meter's control endpoint (module doc)."""

    def meter(self, action: str, **kw: Any) -> Any:
        return self.request("meter", action=action, **kw)

    def press(self, button: str, hold_s: float | None = None) -> Any:
        """Press the reset or display button; hold the reset button `hold_s` seconds."""
        if button not in ("reset", "display"):
            raise ValueError(f"button must be 'reset' or 'display', got {button!r}")
        if hold_s is not None:
            if button != "reset":
                raise ValueError("only the reset button is held (manual 2.1.1)")
            return self.meter("hold_reset", seconds=hold_s)
        return self.meter(f"{button}_button")

    def seal(self, open_: bool) -> None:
        self.meter("seal_open", open=open_)

    def condition(self, name: str, present: bool = True) -> None:
        self.meter("condition", name=name, present=present)

    def defects(self, defects: list[Any]) -> list[str]:
        return list(self.meter("defect", defects=defects))

    def inputs(self, phase: int | None = None, **values: float) -> dict[str, Any]:
        return self.request("inputs", phase=phase, **values)

    def display(self) -> str:
        return str(self.request("display"))

    def pulses(self) -> dict[str, int]:
        return dict(self.request("pulses"))

    def time(self) -> float:
        return float(self.request("time"))


class CurrentBank:
    """The IEC 62056-21 bank of whichever meter is in place now (a defect swaps the meter),
    answering at `time_source()`; `lock` guards the swap."""

    def __init__(self, meter_of: Callable[[], Any], time_source: Callable[[], float],
                 lock: threading.RLock | threading.Lock) -> None:
        self._meter_of = meter_of
        self._time_source = time_source
        self._lock = lock
        self._meter: Any = None
        self._bank: Any = None

    def current(self) -> Any:
        with self._lock:
            meter = self._meter_of()
            if meter is not self._meter:
                self._meter = meter
                self._bank = meter.register_bank(self._time_source)
            return self._bank

    @property
    def read_requires_password(self) -> bool:
        return bool(self.current().read_requires_password)

    def identification(self) -> Any:
        return self.current().identification()

    def device_address(self) -> str:
        return str(self.current().device_address())

    def readout(self) -> list[Any]:
        return list(self.current().readout())

    def read(self, address: str, args: tuple[str, ...]) -> list[Any]:
        return list(self.current().read(address, args))

    def write(self, address: str, values: tuple[str, ...]) -> None:
        self.current().write(address, values)

    def execute(self, address: str, values: tuple[str, ...]) -> list[Any]:
        return list(self.current().execute(address, values))

    def check_password(self, level: str, password: str) -> bool:
        return bool(self.current().check_password(level, password))
