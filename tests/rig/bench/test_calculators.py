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
