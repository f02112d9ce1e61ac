"""Driver lookup: registered names, entry points of installed driver packages, import paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.instruments.fluke6105a import Fluke6105A
from rig.instruments.registry import driver_class, known_drivers
from rig.sim import dialects
from tests.rig.labpackage import write_lab_package


def test_builtin_names_and_aliases() -> None:
    assert driver_class("fluke6105a") is Fluke6105A
    assert driver_class("fluke6100a") is Fluke6105A
    assert {"fluke6105a", "mte_pps4003", "zera_com5003"} <= set(known_drivers())
    for name in ("fluke6105a", "fluke6100a", "mte_pps4003", "zera_com5003"):
        assert dialects.dialect_for(name) is not None, name


def test_a_lab_driver_package_plugs_in_by_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dialects.dialect_for("lab_fluke") is None
    monkeypatch.syspath_prepend(str(write_lab_package(tmp_path / "lab")))
    cls = driver_class("lab_fluke")
    assert cls.__name__ == "LabFluke" and issubclass(cls, Fluke6105A)
    assert "lab_fluke" in known_drivers()
    assert dialects.dialect_for("lab_fluke") is dialects.Fluke6105A
    assert "lab_fluke" in dialects.simulated_drivers()


def test_import_path_and_unknown_names_are_explained() -> None:
    assert driver_class("rig.instruments.fluke6105a:Fluke6105A") is Fluke6105A
    with pytest.raises(KeyError, match=r"driver 'rig.nothing:X': cannot import 'rig.nothing'"):
        driver_class("rig.nothing:X")
    with pytest.raises(KeyError, match=r"module 'rig.instruments.fluke6105a' has no 'Nope'"):
        driver_class("rig.instruments.fluke6105a:Nope")
    with pytest.raises(KeyError, match=r"unknown driver 'flux'; known: .*fluke6105a"):
        driver_class("flux")
