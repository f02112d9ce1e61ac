"""Which error calculator measures which position: the bench file names it; validation refuses
more positions than calculators, naming file, key and reason."""

import pytest

from rig.bench import BenchFileError, load_bench_file
from rig.bench.calculators import Assignment

HEAD = """
lab: Test lab
instruments:
  source: {driver: mte_pps4003, resource: "ASRL/dev/ttyUSB0::INSTR"}
  reference: {driver: %s, resource: "TCPIP::127.0.0.1::6320::SOCKET"}
  error_calculators:
    mad3: {driver: zera_mad, resource: "TCPIP::127.0.0.1::6400::SOCKET"}
    mad4: {driver: zera_mad, resource: "TCPIP::127.0.0.1::6401::SOCKET"}
positions:
"""
TAIL = """
safety: {max_voltage: 265, max_current: 12}
environment: {temperature_c: 23}
"""


def position(k, extra=""):
    return (f"  - {{id: {k}, link: 'socket://127.0.0.1:70{k:02d}', meter_constant: 1000, "
            f"wiring: 3P4W, un: 230, in: 5, imax: 10, class: '0.5S'{extra}}}\n")


def bench(tmp_path, positions, reference="zera_com5003"):
    path = tmp_path / "bench.yaml"
    path.write_text(HEAD % reference + "".join(positions) + TAIL)
    return path


def test_each_position_gets_its_calculator_and_input(tmp_path):
    from rig.bench.calculators import assign

    path = bench(tmp_path, [
        position(1),                                   # first free: EC01:0001 on SC1
        position(2, ", pulse_input: Fin2"),            # EC01:0002 on Fin2
        position(3, ", error_calculator: mad3, pulse_input: src-s0-3"),
        position(4, ", error_calculator: mad4"),       # its first input: src-intern-1
    ])
    assert assign(load_bench_file(path)) == [
        Assignment(1, "reference", 1, "SC1"),
        Assignment(2, "reference", 2, "Fin2"),
        Assignment(3, "error_calculators.mad3", 1, "src-s0-3"),
        Assignment(4, "error_calculators.mad4", 1, "src-intern-1"),
    ]


def test_more_positions_than_calculators_is_refused(tmp_path):
    # The MT310s2 has one error calculator (zera-classes mt310s2-sec1module.xml).
    path = bench(tmp_path, [position(1), position(2)], reference="zera_mt310s2")
    with pytest.raises(BenchFileError) as e:
        load_bench_file(path)
    assert str(e.value) == (
        f"{path}: positions.1.error_calculator: more positions than error calculators: "
        "zera_mt310s2 (reference) has 1, taken by position(s) [1]; give position 2 a separate "
        "error-calculator instrument (instruments.error_calculators)"
    )
    # Two positions on the COM5003's scanning head: its one calculator with SC1 is taken.
    path = bench(tmp_path, [position(1, ", pulse_input: SC1"), position(2, ", pulse_input: SC1")])
    with pytest.raises(BenchFileError, match=r"positions\.1\.error_calculator: .* for input 'SC1'"):
        load_bench_file(path)
    # Two positions on one MAD.
    path = bench(tmp_path, [position(1, ", error_calculator: mad3"),
                            position(2, ", error_calculator: mad3")])
    with pytest.raises(BenchFileError, match=r"zera_mad \(error_calculators.mad3\) has 1"):
        load_bench_file(path)


def test_unknown_calculators_and_inputs_are_named(tmp_path):
    path = bench(tmp_path, [position(1, ", pulse_input: fi0"),
                            position(2, ", error_calculator: mad9")])
    with pytest.raises(BenchFileError) as e:
        load_bench_file(path)
    lines = str(e.value).splitlines()
    assert lines[0] == (
        f"{path}: positions.0.pulse_input: 'fi0' is not an input of zera_com5003 (reference; "
        "calculator 1: SC1, HK1; calculator 2: Fin1, Fin2, Fin3, Fin4)"
    )
    assert lines[1].startswith(f"{path}: positions.1.error_calculator: no instrument 'mad9'")
    path = bench(tmp_path, [position(1)], reference="fluke6105a")
    with pytest.raises(BenchFileError, match=r"driver 'fluke6105a' .* has no error calculators"):
        load_bench_file(path)


def test_pulse_wiring_says_what_each_input_is_cabled_to(tmp_path):
    from rig.bench.calculators import assign

    path = bench(tmp_path, [
        position(1, ", pulse_wiring: {SC1: led, HK1: active_export}"),
        # Cabled inputs of the second calculator only: that one measures the position.
        position(2, ", pulse_wiring: {Fin1: reactive_q1q2, Fin2: led_active}"),
        position(3, ", error_calculator: mad3, pulse_input: src-s0-3, "
                    "pulse_wiring: {src-s0-3: active_import}"),
    ])
    config = load_bench_file(path)
    assert [a.unit for a in assign(config)] == [1, 2, 1]
    assert config.position(1).wired_output("HK1") == "active_export"
    assert config.position(1).wired_output("SC1") == "led"
    assert config.position(2).wired_output("Fin3") == "led"  # not cabled: the head on the LEDs
    assert config.position(3).wired_output("src-s0-3") == "active_import"


@pytest.mark.parametrize("extra, line", [
    # Not a meter output (the A1000 manual's outputs, rig.bench.outputs).
    (", pulse_wiring: {SC1: output_5}",
     "positions.0.pulse_wiring: SC1: 'output_5' is not a meter output; one of led, "
     "active_import, active_export, reactive_q1q2, reactive_q3q4, led_active, led_reactive"),
    # Not an input of the instrument.
    (", pulse_wiring: {SC2: led}",
     "positions.0.pulse_wiring: 'SC2' not an input of zera_com5003 (reference; calculator 1: "
     "SC1, HK1; calculator 2: Fin1, Fin2, Fin3, Fin4)"),
    # Inputs of two calculators: one calculator measures a position.
    (", pulse_wiring: {SC1: led, Fin1: active_import}",
     "positions.0.pulse_wiring: inputs Fin1, SC1 are not inputs of one calculator of "
     "zera_com5003 (reference; calculator 1: SC1, HK1; calculator 2: Fin1, Fin2, Fin3, Fin4)"),
    (", pulse_input: SC1, pulse_wiring: {Fin1: active_import}",
     "positions.0.pulse_wiring: inputs Fin1, SC1 are not inputs of one calculator of "
     "zera_com5003 (reference; calculator 1: SC1, HK1; calculator 2: Fin1, Fin2, Fin3, Fin4)"),
])
def test_bad_pulse_wiring_names_file_field_and_reason(tmp_path, extra, line):
    path = bench(tmp_path, [position(1, extra)])
    with pytest.raises(BenchFileError) as e:
        load_bench_file(path)
    assert str(e.value) == f"{path}: {line}"


def test_a_bench_chains_repetitions_only_where_every_calculator_does(tmp_path):
    """zera-classes sec1modulemeasprogram.cpp checkForRestart: a COM5003 calculator in
    continuous mode runs on, except on an HK input; a MAD says nothing of chaining, so a bench
    with one restarts (rig.measure)."""
    from rig.bench.calculators import chains_repetitions

    assert chains_repetitions(load_bench_file(bench(tmp_path, [position(1)])))
    assert not chains_repetitions(load_bench_file(bench(tmp_path, [
        position(1, ", pulse_input: HK1")])))
    assert not chains_repetitions(load_bench_file(bench(tmp_path, [
        position(1), position(3, ", error_calculator: mad3")])))


def test_the_simulated_bench_of_12_positions_does_not_chain():
    """`--positions 12` gives positions 2-12 a simulated MAD each (rig.sim.bench)."""
    import yaml

    from rig.bench.calculators import chains_repetitions
    from rig.bench.config import validate_bench
    from rig.session import SIM_BENCH_FILE
    from rig.sim.bench import expand_positions

    raw = yaml.safe_load(SIM_BENCH_FILE.read_text(encoding="utf-8"))
    assert chains_repetitions(validate_bench(expand_positions(raw, 1), "sim"))
    assert not chains_repetitions(validate_bench(expand_positions(raw, 12), "sim"))
