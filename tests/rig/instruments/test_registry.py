"""Driver lookup: entry points (the rig's own drivers in pyproject.toml, a lab's driver package's
in its own metadata) and import paths, all through the one loader (rig.importpath)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from rig.importpath import declared, import_object
from rig.instruments.fluke6105a import Fluke6105A
from rig.instruments.registry import ENTRY_POINT_GROUP, driver_class, known_drivers
from rig.sim import dialects
from tests.rig.labpackage import ENTRY_POINTS, write_lab_package

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def _pyproject_entry_points(group: str) -> dict[str, str]:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)["project"]["entry-points"][group]


def test_builtin_names_and_aliases() -> None:
    assert driver_class("fluke6105a") is Fluke6105A
    assert driver_class("fluke6100a") is Fluke6105A
    assert {"fluke6105a", "mte_pps4003", "zera_com5003"} <= set(known_drivers())
    for name in ("fluke6105a", "fluke6100a", "mte_pps4003", "zera_com5003"):
        assert dialects.dialect_for(name) is not None, name


def test_every_own_driver_is_declared_in_pyproject_with_its_dialect() -> None:
    # What pyproject.toml declares is what the installed metadata holds: a stale editable
    # install (pyproject.toml changed, not reinstalled) fails here, not as an unknown driver.
    drivers = _pyproject_entry_points(ENTRY_POINT_GROUP)
    sims = _pyproject_entry_points(dialects.ENTRY_POINT_GROUP)
    assert set(drivers) == set(sims), "every driver names its simulator dialect"
    for group, own in ((ENTRY_POINT_GROUP, drivers), (dialects.ENTRY_POINT_GROUP, sims)):
        installed = declared(group)
        assert {k: installed.get(k) for k in own} == own, (
            f"{group}: the installed metadata differs from pyproject.toml; reinstall "
            "(`python3 run.py lint`)"
        )
    for name, path in drivers.items():
        cls = driver_class(name)
        assert cls is import_object(path) and cls.__module__.startswith("rig.instruments.")
        sim = dialects.dialect_for(name)
        # The simulator is a second implementation: its dialect is no driver class.
        assert sim is not None and sim.__module__.startswith("rig.sim.dialects."), name


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


@pytest.mark.parametrize(
    ("name", "entry_points", "message"),
    [
        (  # a lab package declaring one of our names as its own class
            "fluke6105a",
            ENTRY_POINTS.replace("lab_fluke = labfluke", "fluke6105a = labfluke", 1),
            r"'fluke6105a' of meter_test_rig.drivers is declared twice: .*labfluke:LabFluke",
        ),
        (
            "lab_fluke",
            ENTRY_POINTS.replace("labfluke:LabFluke", "labfluke:Missing", 1),
            r"driver 'lab_fluke' \(entry point of meter_test_rig.drivers\) 'labfluke:Missing': "
            r".* has no 'Missing'",
        ),
    ],
)
def test_a_bad_declaration_is_refused_naming_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, entry_points: str, message: str
) -> None:
    monkeypatch.syspath_prepend(str(write_lab_package(tmp_path / "lab", entry_points)))
    with pytest.raises(KeyError, match=message):
        driver_class(name)


def test_import_path_and_unknown_names_are_explained() -> None:
    assert driver_class("rig.instruments.fluke6105a:Fluke6105A") is Fluke6105A
    with pytest.raises(KeyError, match=r"driver 'rig.nothing:X': cannot import 'rig.nothing'"):
        driver_class("rig.nothing:X")
    with pytest.raises(KeyError, match=r"module 'rig.instruments.fluke6105a' has no 'Nope'"):
        driver_class("rig.instruments.fluke6105a:Nope")
    with pytest.raises(KeyError, match=r"unknown driver 'flux'; known: .*fluke6105a"):
        driver_class("flux")
