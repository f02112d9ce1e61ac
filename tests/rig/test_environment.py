"""rig.environment: readings of the room from the bench file, the operator or the environment
sensor (Vaisala HMP155: its driver against the independent simulated probe over real PyVISA
TCP), at the start and every interval."""

from __future__ import annotations

import copy

import pytest
import yaml

from rig.bench.bench import open_instrument, open_visa_library
from rig.bench.config import Environment, load_bench_file
from rig.environment import EnvironmentLog, EnvironmentReading
from rig.hands import HandsError
from rig.instruments.errors import InstrumentError
from rig.instruments.vaisala_hmp155 import parse_reading
from rig.sim import SimBench
from tests.rig.sim.conftest import SIM_BENCH


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class TypedHands:
    """An operator who types the given answers."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def ask(self, text: str) -> str:
        self.asked.append(text)
        return self.answers.pop(0)


def test_a_fixed_entry_is_read_once() -> None:
    got: list[EnvironmentReading] = []
    env = EnvironmentLog(Environment(temperature_c=23.0, humidity_pct=40), Clock(), got.append)
    assert env.check() == EnvironmentReading(23.0, 40.0, 1000.0, "bench file (fixed)")
    assert env.check() is None and got == env.readings


def test_the_operator_is_asked_at_the_start_and_each_interval_and_again_on_a_typo() -> None:
    clock, got = Clock(), []
    hands = TypedHands("21,5", "abc", "130", "48", "22.0", "50")
    cfg = Environment(read_by="operator", interval_min=30, sensor="rack hygrometer")
    env = EnvironmentLog(cfg, clock, got.append, hands=hands)
    first = env.check()
    # "21,5" read with a decimal comma; "abc" and 130 %RH refused and asked again.
    assert first == EnvironmentReading(21.5, 48.0, 1000.0, "operator (rack hygrometer)")
    assert hands.asked == ["Ambient temperature in degC now:"] + [
        "Ambient relative humidity in %RH now:"] * 3
    clock.t += 29 * 60
    assert env.check() is None
    clock.t += 60
    assert env.check().temperature_c == 22.0 and len(got) == 2


def test_an_operator_who_cannot_enter_a_number_is_a_clear_error() -> None:
    env = EnvironmentLog(Environment(read_by="operator"), Clock(), lambda r: None,
                         hands=TypedHands("x", "y", "z"))
    with pytest.raises(HandsError, match=r"no valid temperature entered: .*'z' is not a number"):
        env.read()


@pytest.mark.parametrize(("reply", "reading"), [
    ("RH= 43.0 %RH T= 21.0 'C", (21.0, 43.0)),  # the manual's example
    ("RH=100.0 %RH T=-12.3 'C", (-12.3, 100.0)),  # full-width fields
])
def test_replies_of_the_probe(reply, reading) -> None:
    assert parse_reading(reply) == reading


@pytest.mark.parametrize(("reply", "why"), [
    ("RH= 43.0 %RH T= 69.8 'F", "metric units"),
    ("T= 21.0 'C", "no RH"),
    ("Unknown command", "no T or RH"),
])
def test_bad_replies_name_what_is_wrong(reply, why) -> None:
    with pytest.raises(ValueError, match=why):
        parse_reading(reply)


def sensor_bench() -> dict:
    bench = yaml.safe_load(SIM_BENCH.read_text(encoding="utf-8"))
    bench = copy.deepcopy(bench)
    bench["instruments"]["environment"] = {"driver": "vaisala_hmp155", "resource": "sim:thermo"}
    bench["environment"] = {"read_by": "sensor", "interval_min": 1}
    return bench


def test_the_sensor_driver_reads_the_simulated_probe_over_visa_tcp() -> None:
    with SimBench(bench=sensor_bench()) as sim:
        assert sim.bench_file is not None and sim.simulator is not None
        config = load_bench_file(sim.bench_file)
        inst = config.instruments.environment
        assert inst is not None and inst.resource.startswith("TCPIP::127.0.0.1::")
        sensor = open_instrument(open_visa_library("@py", config), "environment", inst)
        try:
            probe = sim.simulator.instrument("thermo").dialect
            assert sensor.read_environment() == (23.0, 45.0)
            probe.temperature_c, probe.humidity_pct = 24.46, 51.04
            clock, got = Clock(), []
            env = EnvironmentLog(config.environment, clock, got.append, sensor=sensor,
                                 sensor_name="vaisala_hmp155")
            # Reply fields carry one decimal: 24.5 degC, 51.0 %RH.
            assert env.check() == EnvironmentReading(24.5, 51.0, 1000.0, "sensor vaisala_hmp155")
            assert env.check() is None
            clock.t += 60
            sim.simulator.instrument("thermo").server.faults.silent = True
            with pytest.raises(InstrumentError, match="environment"):
                env.check()
            assert env.check() is None  # a failed reading waits an interval too
            assert probe.readings >= 3
        finally:
            sensor.close()
