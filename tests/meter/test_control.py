"""The meter control endpoint's wire (JSON lines over TCP) and its client."""

from __future__ import annotations

import json
import socket

import pytest

from meter.control import MAX_LINE, ControlError, ControlServer, MeterControl, inputs_with
from meter.electrical import ElectricalInputs


def _echo(request: dict) -> object:
    if request.get("op") == "fail":
        raise ControlError("refused on purpose")
    if request.get("op") == "bug":
        raise RuntimeError("a bug")
    return {"echo": request}


def test_requests_and_bad_lines_each_get_one_reply() -> None:
    server = ControlServer(_echo).start()
    try:
        with MeterControl(server.address) as c:
            assert c.request("x", a=1) == {"echo": {"op": "x", "a": 1}}
            with pytest.raises(ControlError, match="refused on purpose"):
                c.request("fail")
            with pytest.raises(ControlError, match="internal error: RuntimeError: a bug"):
                c.request("bug")
        host, port = server.address.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            f = s.makefile("rwb")
            f.write(b"not json\n[1, 2]\n\n" + b"x" * (MAX_LINE + 10) + b"\n")
            f.flush()
            replies = [json.loads(f.readline()) for _ in range(3)]
        assert [r["ok"] for r in replies] == [False, False, False]
        assert "not JSON" in replies[0]["error"] and "object" in replies[1]["error"]
        assert "over" in replies[2]["error"]
        with MeterControl(server.address) as c:  # the endpoint lives on
            assert c.request("y") == {"echo": {"op": "y"}}
    finally:
        server.close()


def test_inputs_with_changes_one_phase_or_all() -> None:
    base = ElectricalInputs.balanced(57.7, 0.5, 0.0)
    one = inputs_with(base, 3, u=63.5, i_angle=90.0)
    assert (one.phases[2].voltage.rms, one.phases[2].current.angle_deg) == (63.5, 90.0)
    assert one.phases[0] == base.phases[0] and one.phases[1] == base.phases[1]
    every = inputs_with(base, None, i=5.0, frequency=60.0)
    assert [p.current.rms for p in every.phases] == [5.0, 5.0, 5.0]
    assert every.frequency == 60.0
    with pytest.raises(ControlError, match="unknown value"):
        inputs_with(base, None, volts=1.0)
    with pytest.raises(ValueError, match="finite"):
        inputs_with(base, 1, u_angle=float("inf"))
