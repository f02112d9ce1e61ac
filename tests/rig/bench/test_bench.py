"""The Bench: load-point refusals, energising, de-energising on every exit path, watchdog option."""

import math
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from rig.bench import Bench, load_bench_file
from rig.instruments.errors import LoadPointRefused
from rig.instruments.loadpoint import Harmonic, LoadPoint
from rig.safety import SafetyError
from tests.rig.bench.fakes import FakeEC, FakeReference, FakeSource

BENCHES = Path(__file__).resolve().parents[3] / "benches"


def make_bench(source=None, bench_file="fluke6105a-com5003.yaml", sleeps=None):
    config = load_bench_file(BENCHES / bench_file)
    source = source or FakeSource()
    sleeps = [] if sleeps is None else sleeps
    ecs = {p.id: FakeEC(p.id) for p in config.positions}
    return Bench(config, source, FakeReference(), ecs, sleep=sleeps.append), source


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (LoadPoint.balanced(230, 13), "L1 current 13 A exceeds safety.max_current 12 A"),
        (
            LoadPoint.balanced(230, 5).scaled_voltage(1.2),
            "voltage 276 V exceeds safety.max_voltage 265",
        ),
        (LoadPoint.balanced(230, 5).with_currents(5, 12.5, 5), "L2 current 12.5 A"),
        (
            LoadPoint.balanced(230, 5, frequency=70),
            "frequency 70 Hz is outside the source capability",
        ),
        (
            LoadPoint.balanced(230, 5).with_harmonics(voltage=(Harmonic(40, 0.01),)),
            "harmonic 40 exceeds the source capability max_harmonic_order 31",
        ),
    ],
)
def test_points_outside_limits_are_refused_before_anything_is_sent(point, message):
    bench, source = make_bench()
    with pytest.raises(LoadPointRefused, match=message):
        bench.energise(point)
    assert source.calls == []
    with pytest.raises(LoadPointRefused, match=r"fluke6105a-com5003\.yaml"):
        bench.check(LoadPoint.balanced(230, 13))


def test_capability_limit_names_source(tmp_path):
    text = (
        (BENCHES / "mte-pps4003-com5003.yaml")
        .read_text()
        .replace("max_current: 110", "max_current: 200")
    )
    path = tmp_path / "b.yaml"
    path.write_text(text)
    config = load_bench_file(path)
    bench = Bench(config, FakeSource(), FakeReference(), {})
    with pytest.raises(LoadPointRefused, match="exceeds the source capability max_current 120 A"):
        bench.check(LoadPoint.balanced(230, 150))


def test_normal_exit_ramps_currents_down_and_verifies_off():
    sleeps = []
    bench, source = make_bench(sleeps=sleeps)
    with bench:
        bench.energise(LoadPoint.balanced(230, 10))
        assert source.calls[-1] == ("output_on",)
    applied = [c[1][0] for c in source.calls if c[0] == "apply"]
    # 10 A at 2 A/s in 10 steps: 9, 8, ..., 0 A, 0.5 s apart
    assert applied == [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    assert sleeps == [pytest.approx(0.5)] * 10
    assert source.calls[-2:] == [("output_off",), ("is_on",)]
    assert not bench.energised


def test_exception_in_block_de_energises_and_propagates():
    bench, source = make_bench()
    with pytest.raises(AssertionError, match="meter error"), bench:
        bench.energise(LoadPoint.balanced(230, 1))
        raise AssertionError("meter error too large")
    assert ("output_off",) in source.calls
    assert source.calls[-1] == ("is_on",)
    assert source.on is False


def test_keyboard_interrupt_de_energises():
    bench, source = make_bench()
    with pytest.raises(KeyboardInterrupt), bench:
        bench.energise(LoadPoint.balanced(230, 1))
        raise KeyboardInterrupt
    assert source.calls[-2:] == [("output_off",), ("is_on",)]


def test_exit_without_energising_still_switches_off():
    bench, source = make_bench()
    with bench:
        pass
    assert source.calls == [("output_off",), ("is_on",)]


def test_failed_apply_during_energise_switches_off():
    bench, source = make_bench(source=FakeSource(fail_on={"output_on"}))
    with pytest.raises(OSError, match="output_on failed"):
        bench.energise(LoadPoint.balanced(230, 1))
    assert ("output_off",) in source.calls
    assert not bench.energised


def test_signal_handlers_installed_only_while_energised():
    before = signal.getsignal(signal.SIGTERM)
    bench, _ = make_bench()
    with bench:
        bench.energise(LoadPoint.balanced(230, 1))
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_in_process_is_a_stop_request_that_unwinds_and_de_energises():
    import os

    from rig.safety import StopRequested
    from rig.timebase import WallTimebase

    bench, source = make_bench()
    with pytest.raises(StopRequested, match="SIGTERM received") as exc, bench:
        bench.energise(LoadPoint.balanced(230, 1))
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises nothing: it records
        assert bench.stop.requested and bench.energised
        WallTimebase(progress=False, stop=bench.stop).dwell(3600.0)  # the next wait stops
    assert exc.value is not None
    assert source.calls[-2:] == [("output_off",), ("is_on",)]
    assert not bench.energised


def test_watchdog_option_is_armed_only_where_the_driver_can():
    bench, source = make_bench(source=FakeSource(watchdog=True))
    bench._arm_watchdog()
    assert bench.watchdog_armed and ("arm_watchdog", 30.0) in source.calls
    bench, source = make_bench(source=FakeSource(watchdog=False))
    bench._arm_watchdog()
    assert not bench.watchdog_armed


def test_error_calculator_lookup():
    bench, _ = make_bench()
    assert bench.error_calculator(2).position == 2
    with pytest.raises(KeyError, match="no position 7"):
        bench.error_calculator(7)


def test_unresolved_placeholders_are_refused_naming_the_key():
    config = load_bench_file(BENCHES / "sim.yaml")
    with pytest.raises(ValueError, match=r"instruments.source.resource = 'sim:source'"):
        Bench.open(config, resource_manager=object())


def test_energise_with_ramp_starts_at_zero_current_and_ramps_up():
    sleeps = []
    bench, source = make_bench(sleeps=sleeps)
    with bench:
        bench.energise(LoadPoint.balanced(230, 4), ramp=True)
        applied = [c[1][0] for c in source.calls if c[0] == "apply"]
        assert applied == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8, 3.2, 3.6, 4.0])
        assert source.calls[1] == ("output_on",)  # on with zero current, before the ramp
        assert sum(sleeps) == pytest.approx(2.0)  # 4 A at 2 A/s
        assert bench.point == LoadPoint.balanced(230, 4).scaled_current(1.0)


def test_interrupted_ramp_up_ramps_down_from_where_it_stood():
    bench, source = make_bench()

    interrupts = []

    def interrupt_at_third_step(seconds):
        if not interrupts and sum(1 for c in source.calls if c[0] == "apply") == 3:
            interrupts.append(seconds)
            raise KeyboardInterrupt

    bench.sleep = interrupt_at_third_step
    with pytest.raises(KeyboardInterrupt), bench:
        bench.energise(LoadPoint.balanced(230, 10), ramp=True)
    applied = [c[1][0] for c in source.calls if c[0] == "apply"]
    # 0, 1, 2 A up; then down from 2 A, never above it
    assert applied[:3] == pytest.approx([0.0, 1.0, 2.0])
    assert max(applied[3:]) <= 2.0 and applied[-1] == 0.0
    assert source.calls[-2:] == [("output_off",), ("is_on",)]


def test_keepalive_reports_state_and_detects_a_tripped_output():
    bench, source = make_bench()
    assert bench.keepalive() is False
    with bench:
        bench.energise(LoadPoint.balanced(230, 1))
        assert bench.keepalive() is True
        source.on = False  # interlock opened behind our back
        with pytest.raises(SafetyError, match="switched off unexpectedly"):
            bench.keepalive()


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (LoadPoint.balanced(230, math.nan), r"L1 current nan is not a finite number"),
        (LoadPoint.balanced(math.inf, 5), r"L1 voltage inf is not a finite number"),
        (LoadPoint.balanced(230, 5, frequency=math.inf), r"frequency inf Hz is not a finite"),
        (
            LoadPoint(tuple(replace(p, current_angle=math.nan) for p in LoadPoint.balanced(
                230, 5).phases)),
            r"L1 current angle nan is not a finite number",
        ),
        (
            LoadPoint.balanced(230, 5).with_harmonics(current=(Harmonic(5, math.inf),)),
            r"L1 current harmonic 5 inf is not a finite number",
        ),
    ],
)
def test_non_finite_numbers_are_refused_by_the_bench_itself(point, message):
    """NaN compares false with every limit, so each limit check alone would let it through;
    the bench refuses it before the driver or the instrument sees anything."""
    bench, source = make_bench()
    with pytest.raises(LoadPointRefused, match=message):
        bench.energise(point)
    assert source.calls == []
