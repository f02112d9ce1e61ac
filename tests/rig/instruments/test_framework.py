"""The driver framework: lookup, descriptors, transcript helper, conventions of every driver."""

import pytest

from rig.instruments import known_drivers
from rig.instruments.base import Instrument
from rig.instruments.descriptors import Setting, compact_number, each, in_range, int_range, one_of
from rig.instruments.errors import SettingError
from rig.instruments.registry import driver_class
from rig.instruments.roles import (
    PowerSource,
    ProvidesEnergy,
    ProvidesErrorCalculators,
    ReferenceMeter,
)
from rig.instruments.testing import TranscriptAdapter, expected_protocol


def test_builtin_drivers_are_declared_with_their_roles():
    assert {"fluke6105a", "mte_pps4003", "zera_com5003", "zera_mt310s2"} <= set(known_drivers())
    for name in ("fluke6105a", "mte_pps4003"):
        assert isinstance(driver_class(name)(TranscriptAdapter([])), PowerSource)
    zera = driver_class("zera_com5003")(TranscriptAdapter([]))
    assert isinstance(zera, ReferenceMeter)
    assert isinstance(zera, ProvidesErrorCalculators) and isinstance(zera, ProvidesEnergy)
    assert not isinstance(zera, PowerSource)


def test_every_setting_docstring_starts_with_a_verb():
    # PyMeasure's convention, made a test (anchors.md style lesson 1).
    from rig.instruments import fluke6105a, mte_pps4003, zera_com5003

    verbs = ("Control", "Set", "Measure", "Get")
    classes = [
        fluke6105a.Fluke6105A,
        fluke6105a.FlukePhase,
        mte_pps4003.MtePps4003,
        mte_pps4003.MtePhase,
        zera_com5003.ZeraCom5003,
        zera_com5003.ZeraErrorCalculator,
    ]
    settings = [
        (c.__name__, k, v) for c in classes for k, v in vars(c).items() if isinstance(v, Setting)
    ]
    assert len(settings) >= 15
    for cls, name, setting in settings:
        assert setting.__doc__.startswith(verbs), f"{cls}.{name}: {setting.__doc__!r}"


def test_validators():
    assert in_range(0, 10)(5, "x") == 5.0
    with pytest.raises(SettingError, match=r"x: 11 is outside 0 \.\. 10"):
        in_range(0, 10)(11, "x")
    with pytest.raises(SettingError, match="not an integer"):
        int_range(0, 10)(1.5, "n")
    with pytest.raises(SettingError, match="not one of"):
        one_of(("a", "b"))("c", "m")
    with pytest.raises(SettingError, match="expected 2 values"):
        each(in_range(0, 1), in_range(0, 1))((0.5,), "p")
    assert [compact_number(v) for v in (10000, 1000.5, 0.125, 2.0)] == [
        "10000",
        "1000.5",
        "0.125",
        "2",
    ]


def test_transcript_adapter_catches_wrong_leftover_and_unread():
    adapter = TranscriptAdapter([("A", "1"), ("B", None)])
    with pytest.raises(AssertionError, match="expected 'A'"):
        adapter.write("Z")
    adapter = TranscriptAdapter([("A", "1"), ("B", None)])
    adapter.write("A")
    with pytest.raises(AssertionError, match="left unread"):
        adapter.write("B")
    adapter = TranscriptAdapter([("A", None)])
    with pytest.raises(AssertionError, match="not used up"):
        adapter.assert_done()
    with pytest.raises(AssertionError, match="no reply pending"):
        adapter.read()


def test_expected_protocol_fails_when_commands_are_left_over():
    class Echo(Instrument):
        def write(self, command, *, idempotent=True):
            self._exchange(command, 0)

    with (
        pytest.raises(AssertionError, match="still expected"),
        expected_protocol(Echo, [("X", None), ("Y", None)]) as inst,
    ):
        inst.write("X")


def test_negative_retries_refused():
    with pytest.raises(ValueError, match="retries"):
        Instrument(TranscriptAdapter([]), retries=-1)
