"""The simulated Fluke 6105A answers and refuses as the real one does (docs/dialects.md 1):
current angles relative to their own phase's voltage, harmonic trees that are off give a sine,
harmonic amplitudes in % until `UNIT:MHAR:... ABS`, amplitudes above the range in force refused."""

from __future__ import annotations

import pytest

from rig.sim.dialects.fluke import Fluke6105A
from rig.sim.world import World, WorldConfig

OK = '0,"No error"'


@pytest.fixture
def fluke() -> Fluke6105A:
    return Fluke6105A(World(WorldConfig(), []))


def run(dialect: Fluke6105A, *lines: str) -> list[str]:
    """Send `lines`; return the error queue drained after them."""
    for line in lines:
        dialect.handle(line)
    errors = []
    while (reply := dialect.handle("SYST:ERR?")[0]) != OK:
        errors.append(reply)
    return errors


def test_current_angle_is_taken_from_its_own_phase_voltage(fluke: Fluke6105A) -> None:
    assert run(fluke, "SOUR:PHAS2:VOLT:RANG 0,360", "SOUR:PHAS2:CURR:RANG 0.5,5",
               "SOUR:PHAS2:VOLT:MHAR:HARM1 230,-120", "SOUR:PHAS2:CURR:MHAR:HARM1 5,-60") == []
    phase = fluke.world.source.state.phases[1]
    assert (phase.u_angle, phase.i_angle) == (-120.0, 180.0)  # -120 + -60: PF 0.5 inductive
    assert fluke.handle("SOUR:PHAS2:CURR:MHAR:HARM1?") == ["5,-60"]


def test_amplitude_above_the_range_in_force_is_refused(fluke: Fluke6105A) -> None:
    # A channel starts in its smallest range [L]: 230 V needs the 360 V range first.
    assert run(fluke, "SOUR:PHAS1:VOLT:MHAR:HARM1 230,0") == ['-222,"Data out of range"']
    assert fluke.world.source.state.phases[0].u_rms == 0.0
    assert run(fluke, "SOUR:PHAS1:VOLT:RANG 0,360", "SOUR:PHAS1:VOLT:MHAR:HARM1 230,0") == []
    # a smaller range under a larger output conflicts; a range beyond 1008 V is out of range
    assert run(fluke, "SOUR:PHAS1:VOLT:RANG 0,180") == ['-221,"Settings conflict"']
    assert run(fluke, "SOUR:PHAS1:VOLT:RANG 0,2000") == ['-222,"Data out of range"']
    assert fluke.handle("SOUR:PHAS1:VOLT:RANG?") == ["0,360"]


def test_harmonics_need_the_tree_on_and_absolute_units(fluke: Fluke6105A) -> None:
    setup = ("SOUR:PHAS1:VOLT:RANG 0,360", "SOUR:PHAS1:VOLT:MHAR:HARM1 230,0")
    assert run(fluke, *setup, "SOUR:PHAS1:VOLT:MHAR:HARM5 23,0") == []
    # In % (the unit before ABS is chosen): 23 % of 230 V, and the tree is off: a sine.
    assert fluke.world.source.state.phases[0].u_harmonics == ()
    assert run(fluke, "SOUR:PHAS1:VOLT:MHAR:STAT ON") == []
    (h,) = fluke.world.source.state.phases[0].u_harmonics
    assert (h.order, h.fraction) == (5, pytest.approx(0.23))
    assert run(fluke, "UNIT:MHAR:VOLT ABS", "SOUR:PHAS1:VOLT:MHAR:HARM5 23,0") == []
    (h,) = fluke.world.source.state.phases[0].u_harmonics
    assert h.fraction == pytest.approx(0.1)
    assert fluke.handle("UNIT:MHAR:VOLT?") == ["ABS"]
    assert run(fluke, "UNIT:MHAR:VOLT VOLTS") == ['-224,"Illegal parameter value"']


def test_no_amplifier_and_unknown_headers_are_refused(fluke: Fluke6105A) -> None:
    assert fluke.handle("SOUR:PHAS1:CURR:EAMP:FITT?") == ["0"]
    assert run(fluke, "SOUR:PHAS1:CURR:EAMP:RANG 0,120") == ['-221,"Settings conflict"']
    assert run(fluke, "SOUR:PHAS1:CURR:MHAR:HARM101 1,0") == ['-113,"Undefined header"']
    assert run(fluke, "SOUR:PHAS4:VOLT:STAT 1") == ['-113,"Undefined header"']
