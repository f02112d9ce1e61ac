"""The simulator-control endpoint, which no real bench has: one JSON object per line over TCP on
127.0.0.1, request `{"op": ..., ...}`, reply `{"ok": true, "result": ...}` or
`{"ok": false, "error": "..."}`. `SimControl` is the Python client.

Ops: time, advance {dt}, advance_to {t}, source, reference, arm_watchdog {timeout_s},
fault {instrument, kind: error|slow|drop|silent|clear, count, delay_s}, overload {phase},
interlock {open}, meter {position, action, ...}, connect {position, pulse_input, output},
display {position}, pulses {position},
positions, ec {position}, dosage {energy_kwh}, dosage_state, resources, realtime.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from meter.control import ControlError, JsonLinesClient, answer
from rig.sim.lineserver import TcpLineServer
from rig.sim.reference import EcStatus
from rig.sim.source import SourceError
from rig.sim.world import WorldError

if TYPE_CHECKING:
    from rig.sim.bench import Simulator
    from rig.sim.serving import ServingLoop




class ControlApi:
    """The operations behind the endpoint (also usable in-process)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.world = sim.world

    def call(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        handler: Callable[..., Any] | None = (
            getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        )
        if handler is None:
            raise ControlError(f"unknown op {op!r}")
        args = {k: v for k, v in request.items() if k != "op"}
        try:
            return handler(**args)
        except TypeError as e:
            raise ControlError(f"op {op!r}: bad arguments ({e})") from None
        except (WorldError, SourceError, ValueError, KeyError) as e:
            raise ControlError(f"op {op!r}: {e}") from None

    # -- time --------------------------------------------------------------------------------
    def op_time(self) -> float:
        with self.world.access():
            return self.world.t

    def op_advance(self, dt: float) -> float:
        self.world.advance(float(dt))
        return self.world.t

    def op_advance_to(self, t: float) -> float:
        self.world.advance_to(float(t))
        return self.world.t

    def op_realtime(self, on: bool) -> bool:
        self.world.set_realtime(bool(on))
        return self.world.realtime

    # -- source ------------------------------------------------------------------------------
    def op_source(self) -> dict[str, Any]:
        with self.world.access():
            d = self.world.source.describe()
            d["actual"] = [
                vars(p) | {"u_harmonics": len(p.u_harmonics), "i_harmonics": len(p.i_harmonics)}
                for p in self.world.source.actual_phases()
            ]
            d["phases"] = [
                {k: v for k, v in p.items() if not k.endswith("harmonics")} for p in d["phases"]
            ]
            d["energised"] = any(
                p.u_rms > 0 or p.i_rms > 0 for p in self.world.source.actual_phases()
            )
            return d

    def op_arm_watchdog(self, timeout_s: float) -> dict[str, Any]:
        self.world.arm_watchdog(float(timeout_s))
        return {"armed": self.world.source.watchdog.armed, "timeout_s": float(timeout_s)}

    def op_overload(self, phase: int) -> None:
        self.world.trip_overload(int(phase))

    def op_interlock(self, open: bool) -> None:
        self.world.set_interlock(bool(open))

    def op_dosage(self, energy_kwh: float) -> dict[str, Any]:
        self.world.start_dosage(float(energy_kwh))
        return self.world.dosage_state()

    def op_dosage_state(self) -> dict[str, Any]:
        return self.world.dosage_state()

    # -- reference and error calculators -----------------------------------------------------
    def op_reference(self) -> dict[str, Any]:
        with self.world.access():
            return vars(self.world.reference.reading())

    def op_ec(self, position: int) -> dict[str, Any]:
        with self.world.access():
            ec = self.world.ec(int(position))
            last = ec.last
            return {
                "status": EcStatus(ec.status).name,
                "progress": ec.progress_pct,
                "mrate": ec.mrate,
                "dut_constant": ec.dut_constant,
                "output": ec.output,
                "results": len(ec.results),
                "last": vars(last) if last else None,
            }

    # -- instrument faults -------------------------------------------------------------------
    def op_fault(
        self, instrument: str, kind: str, count: int = 1, delay_s: float = 0.0, on: bool = True
    ) -> dict[str, Any]:
        inst = self.sim.instrument(instrument)
        if kind == "error":
            inst.dialect.injected_errors += int(count)
        elif kind == "slow":
            inst.server.faults.delay_s = float(delay_s)
        elif kind == "drop":
            return {"dropped": inst.server.drop_connections()}
        elif kind == "silent":
            inst.server.faults.silent = bool(on)
        elif kind == "clear":
            inst.dialect.injected_errors = 0
            inst.server.faults.delay_s = 0.0
            inst.server.faults.silent = False
        else:
            raise ControlError(f"unknown fault kind {kind!r} (error, slow, drop, silent, clear)")
        return {"instrument": instrument, "kind": kind}

    # -- meters ------------------------------------------------------------------------------
    def op_positions(self) -> list[dict[str, Any]]:
        with self.world.access():
            return [
                {
                    "position": p.number,
                    "wiring": p.wiring,
                    "address": p.address,
                    "link": p.link,
                    "model": f"{type(p.meter).__module__}.{type(p.meter).__qualname__}",
                }
                for p in self.world.positions.values()
            ]

    def op_meter(self, position: int, action: str, **kw: Any) -> Any:
        return self.sim.meter_action(int(position), action, **kw)

    def op_meters(self, positions: list[int], action: str, **kw: Any) -> list[Any]:
        return self.sim.meters_action([int(p) for p in positions], action, **kw)

    def op_connect(self, position: int, pulse_input: str, output: str) -> None:
        with self.world.access():
            self.sim.connect(int(position), str(pulse_input), str(output))

    def op_display(self, position: int) -> str:
        return self.sim.meter_action(int(position), "display_text")

    def op_pulses(self, position: int) -> dict[str, int]:
        with self.world.access():
            return self.world.position(int(position)).pulse_totals(self.world.t)

    def op_resources(self) -> dict[str, str]:
        return dict(self.sim.substitutions)


class ControlServer:
    """Line-based JSON over TCP on 127.0.0.1, port chosen by the OS: one request object per
    line, one answer object per line (the instruments' line server, speaking JSON)."""

    def __init__(self, api: ControlApi, loop: ServingLoop | None = None) -> None:
        self.api = api
        self._server = TcpLineServer(self._handle, "\n", "control", loop)
        self.port: int = self._server.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def _handle(self, lines: list[str]) -> list[str]:
        # json.dumps escapes every non-ASCII character and newline: one reply line each.
        return [json.dumps(self._answer(line)) for line in lines]

    def _answer(self, raw: str) -> dict[str, Any]:
        return answer(self.api.call, raw)

    def close(self) -> None:
        self._server.close()


class SimControl(JsonLinesClient):
    """Client of the control endpoint. Thread-safe (one request at a time).

    By default it waits for an answer without a wall-clock limit: a request that moves virtual
    time brings every meter up to it (rig.sim.world), which takes wall time in proportion to
    the virtual time, the positions and the machine's load (1500 h at 12 positions: seconds on
    an idle machine, minutes on a loaded one), so any fixed limit is a guess that a slow
    machine turns into a broken run. A hung simulator is stopped by the plan test's own time
    limit (rig.pytest_plugin), a dead one closes the connection."""

    def __init__(self, address: str | tuple[str, int], timeout_s: float | None = None) -> None:
        super().__init__(address, timeout_s)  # type: ignore[arg-type]

    # Convenience wrappers (each is one request).
    def time(self) -> float:
        return float(self.request("time"))

    def advance(self, dt: float) -> float:
        return float(self.request("advance", dt=dt))

    def advance_to(self, t: float) -> float:
        return float(self.request("advance_to", t=t))

    def source(self) -> dict[str, Any]:
        return self.request("source")

    def output_on(self) -> bool:
        return bool(self.source()["output_on"])

    def reference(self) -> dict[str, Any]:
        return self.request("reference")

    def arm_watchdog(self, timeout_s: float) -> dict[str, Any]:
        return self.request("arm_watchdog", timeout_s=timeout_s)

    def fault(self, instrument: str, kind: str, **kw: Any) -> Any:
        return self.request("fault", instrument=instrument, kind=kind, **kw)

    def overload(self, phase: int) -> None:
        self.request("overload", phase=phase)

    def interlock(self, open_: bool) -> None:
        self.request("interlock", open=open_)

    def meter(self, position: int, action: str, **kw: Any) -> Any:
        return self.request("meter", position=position, action=action, **kw)

    def meters(self, positions: list[int], action: str, **kw: Any) -> list[Any]:
        """`action` on several meters at the same instant (e.g. every reset button held for
        the same 8 s); one result per position, in order."""
        return self.request("meters", positions=list(positions), action=action, **kw)

    def connect(self, position: int, pulse_input: str, output: str) -> None:
        """Move the cable on `pulse_input` of the position's error calculator to meter output
        `output` (rig.bench.outputs)."""
        self.request("connect", position=position, pulse_input=pulse_input, output=output)

    def display(self, position: int) -> str:
        return self.request("display", position=position)

    def pulses(self, position: int) -> dict[str, int]:
        return self.request("pulses", position=position)

    def positions(self) -> list[dict[str, Any]]:
        return self.request("positions")

    def ec(self, position: int) -> dict[str, Any]:
        return self.request("ec", position=position)

    def dosage(self, energy_kwh: float) -> dict[str, Any]:
        return self.request("dosage", energy_kwh=energy_kwh)

    def dosage_state(self) -> dict[str, Any]:
        return self.request("dosage_state")

    def resources(self) -> dict[str, str]:
        return self.request("resources")

