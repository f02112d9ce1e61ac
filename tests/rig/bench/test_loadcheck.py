"""The applied-load check: the reference standard's readings against the set point.

Unit cases on hand-made readings, then the real stack: the simulated bench with a Fluke driver
that sends current angles on the voltage scale (the convention the 6105A does not use,
docs/dialects.md 1) is caught before any measurement.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import yaml

from rig.bench.bench import Bench
from rig.bench.config import LoadCheck, load_bench_file
from rig.bench.loadcheck import LoadMismatch, mismatches
from rig.instruments.fluke6105a import Fluke6105A
from rig.instruments.loadpoint import Harmonic, LoadPoint, PhaseSetting, normalise_angle
from rig.instruments.roles import PhaseReading, Readings
from rig.measure import settle
from rig.sim import SimBench
from rig.timebase import VirtualTimebase
from tests.rig.labpackage import write_lab_package
from tests.rig.sim.conftest import REPO, SIM_BENCH
from tests.rig.test_pytest_plugin import PLAN as TINY_PLAN

pytest_plugins = ["pytester"]

TOL = LoadCheck()

# The plugin tests' two-point accuracy plan, at PF 0.5L.
PLAN = TINY_PLAN.replace('pf: "1"', 'pf: "0.5L"')


def seen(point: LoadPoint, *, frequency=None, **per_phase) -> Readings:
    """Readings of an ideal reference for `point`; per_phase={"L2": {"current_angle": 60}}
    overrides what the reference sees on one phase."""
    phases = []
    for n, s in enumerate(point.phases, start=1):
        u = s.voltage * math.sqrt(1 + sum(h.fraction**2 for h in s.voltage_harmonics))
        i = s.current * math.sqrt(1 + sum(h.fraction**2 for h in s.current_harmonics))
        values = {"voltage": u, "current": i, "voltage_angle": s.voltage_angle,
                  "current_angle": s.current_angle, "p": 0.0, "q": 0.0, "s": u * i, "pf": 1.0}
        values.update(per_phase.get(f"L{n}", {}))
        phases.append(PhaseReading(**values))
    return Readings(tuple(phases), 0.0, 0.0, 0.0, 1.0,
                    point.frequency if frequency is None else frequency)


def test_the_load_that_was_set_passes() -> None:
    point = LoadPoint.balanced(230, 5, "0.5L")
    assert mismatches(point, seen(point), TOL) == []
    # within tolerance: 0.5 % and 1 deg off, 0.01 Hz
    near = seen(point, frequency=50.01, L1={"voltage": 231.1, "current_angle": -59.0})
    assert mismatches(point, near, TOL) == []


def test_export_current_on_one_phase_is_named() -> None:
    point = LoadPoint.balanced(230, 5, "0.5L")
    # L2's current at -180 deg absolute: phi = -120 - (-180) = 60 set, the reference sees the
    # current where the old Fluke convention put it (-120 + -180 = -300 = +60): phi = 180.
    wrong = seen(point, L2={"current_angle": 60.0})
    (line,) = mismatches(point, wrong, TOL)
    assert line == "L2 U-I angle phi 180.0 deg, set 60.0 deg (tolerance 2 deg)"


def test_swapped_phases_and_reversed_sequence_are_named() -> None:
    point = LoadPoint.balanced(230, 5, "1")
    swapped = seen(point, L2={"voltage_angle": 120.0, "current_angle": 120.0},
                   L3={"voltage_angle": -120.0, "current_angle": -120.0})
    lines = mismatches(point, swapped, TOL)
    assert any(x.startswith("L2 voltage angle 120.0 deg, set -120.0 deg") for x in lines)
    assert any(x.startswith("L3 voltage angle -120.0 deg, set 120.0 deg") for x in lines)
    assert lines[-1] == "phase sequence reversed (L2 and L3 swapped?)"


def test_missing_harmonic_shows_in_the_rms() -> None:
    # IEC 62053-22 harmonic influence: 10 % 5th in U, 40 % 5th in I. Without the current
    # harmonic the rms is 5 A instead of 5 * sqrt(1.16) = 5.385 A: 7.2 % low.
    h_u, h_i = (Harmonic(5, 0.1, 0.0),), (Harmonic(5, 0.4, 0.0),)
    point = LoadPoint.balanced(230, 5).with_harmonics(h_u, h_i)
    sine = seen(LoadPoint.balanced(230, 5))
    lines = mismatches(point, sine, TOL)
    assert [x.split(",")[0] for x in lines if "current" in x] == [
        "L1 current 5 A", "L2 current 5 A", "L3 current 5 A"]
    assert "set 5.38516 A" in lines[0] or "set 5.38516 A" in " ".join(lines)


def test_frequency_and_dead_phases() -> None:
    point = LoadPoint.balanced(230, 5).single_element(1)
    assert mismatches(point, seen(point), TOL) == []  # no phi checked where I = 0
    lines = mismatches(point, seen(point, frequency=49.0, L3={"current": 0.2}), TOL)
    assert lines[0].startswith("L3 current 0.2 A, set 0 A")
    assert lines[1] == "frequency 49 Hz, set 50 Hz (tolerance 0.05 Hz)"
    dead = PhaseSetting(0.0, 0.0, 0.0, 0.0)
    no_l1 = LoadPoint((dead, point.phases[1], point.phases[2]))
    assert mismatches(no_l1, seen(no_l1), TOL) == []  # angles relative to L2 then


class VoltageScaleCurrentAngles(Fluke6105A):
    """The convention before issue 12: current angles absolute, on the voltage scale."""

    @staticmethod
    def current_angle(s: PhaseSetting) -> float:
        return normalise_angle(s.current_angle)


def test_wrong_current_angle_convention_is_caught_on_the_simulated_bench() -> None:
    with SimBench(SIM_BENCH) as sim:
        config = load_bench_file(sim.bench_file)
        source = config.instruments.source.model_copy(
            update={"driver": f"{__name__}:VoltageScaleCurrentAngles"})
        config = config.model_copy(
            update={"instruments": config.instruments.model_copy(update={"source": source})})
        with Bench.open(config) as bench:
            tb = VirtualTimebase(sim.control, keepalive=bench.keepalive)
            with pytest.raises(LoadMismatch) as caught:
                settle(bench, tb, LoadPoint.balanced(230, 5, "0.5L"), 5.0)
    # The driver sent L2's current at -180 deg, which the 6105A takes from L2's voltage
    # (-120): the current sits at -300 = +60 deg, phi = -120 - 60 = 180 (export). L3: 60 from
    # +120 = 180 deg, phi = -60.
    message = str(caught.value)
    assert "L2 U-I angle phi 180.0 deg, set 60.0 deg" in message
    assert "L3 U-I angle phi -60.0 deg, set 60.0 deg" in message
    assert "L1" not in message  # L1's voltage is at 0: both conventions agree there


@pytest.mark.parametrize("driver", ["fluke6105a", "mte_pps4003"])
def test_right_convention_passes_on_the_simulated_bench(driver: str) -> None:
    bench_file = yaml.safe_load(SIM_BENCH.read_text(encoding="utf-8"))
    bench_file["instruments"]["source"]["driver"] = driver
    with SimBench(bench=bench_file) as sim, Bench.from_file(sim.bench_file) as bench:
        tb = VirtualTimebase(sim.control, keepalive=bench.keepalive)
        for pf in ("0.5L", "0.8C"):
            settle(bench, tb, LoadPoint.balanced(230, 5, pf), 5.0)
        settle(bench, tb, LoadPoint.balanced(230, 5, "1", "export").reversed_sequence(), 5.0)


def test_type_test_stops_with_a_clear_message_on_a_wrong_load(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lab's driver package (found by its entry points) with the voltage-scale convention,
    on the simulated bench served as a lab bench: the first point stops the whole run."""
    monkeypatch.syspath_prepend(str(write_lab_package(tmp_path / "lab")))
    shutil.copy(REPO / "testplans" / "test_accuracy.py", pytester.path / "test_accuracy.py")
    (pytester.path / "tiny.yaml").write_text(PLAN, encoding="utf-8")
    bench = yaml.safe_load(SIM_BENCH.read_text(encoding="utf-8"))
    bench["instruments"]["source"]["driver"] = "lab_fluke"
    with SimBench(bench=bench) as sim:
        result = pytester.runpytest(
            "-p", "rig.pytest_plugin", "-p", "no:cacheprovider", "--bench", str(sim.bench_file),
            "--plan", str(pytester.path / "tiny.yaml"), "--runs-dir", str(tmp_path / "runs"),
            "--no-report",
        )
        assert not sim.control.output_on()  # de-energised at the end of the session
    result.assert_outcomes(failed=1)  # the second point is not run
    result.stdout.fnmatch_lines([
        "*Interrupted: applied-load check failed: applied load does not match the set point*"
        "L2 U-I angle phi 180.0 deg, set 60.0 deg*",
    ])
