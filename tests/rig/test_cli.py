"""The `meter-test-rig` console command: its own commands and the ones it hands on."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.cli import BENCHES_DIR, TESTPLANS_DIR, main

ROOT = Path(__file__).resolve().parents[2]


def test_paths_name_the_plans_and_bench_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paths"]) == 0
    out = capsys.readouterr().out
    assert f"plans:   {TESTPLANS_DIR}" in out and f"benches: {BENCHES_DIR}" in out
    assert (TESTPLANS_DIR / "plans" / "smoke.yaml").exists()
    assert (BENCHES_DIR / "sim.yaml").exists()


def test_check_bench_in_date(capsys: pytest.CaptureFixture[str]) -> None:
    bench = str(ROOT / "benches" / "fluke6105a-com5003.yaml")
    assert main(["check-bench", bench, "--on", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    assert "valid bench file, lab 'Example meter lab, bench 1', 2 position(s)" in out
    assert "reference: zera_com5003 TCPIP::192.168.10.20::6320::SOCKET; calibration due " \
           "2027-03-02; U 0.01 % (k=2)" in out


def test_check_bench_overdue_fails_unless_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    bench = str(ROOT / "benches" / "fluke6105a-com5003.yaml")
    assert main(["check-bench", bench, "--on", "2027-02-01"]) == 1
    assert "instruments.source (Fluke 6105A serial 1234567): calibration due 2027-01-15" \
        in capsys.readouterr().err
    assert main(["check-bench", bench, "--on", "2027-02-01", "--allow-overdue"]) == 0
    assert "warning: instruments.source" in capsys.readouterr().out


def test_check_bench_invalid_file_names_key(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bench.yaml"
    bad.write_text((ROOT / "benches" / "mte-pps4003-com5003.yaml").read_text().replace(
        'uncertainty: {value: 0.01, unit: "%", k: 2}', 'uncertainty: "0,01 %"'))
    assert main(["check-bench", str(bad)]) == 1
    assert "instruments.reference.uncertainty: cannot read '0,01 %'" in capsys.readouterr().err


def test_report_is_handed_to_the_reports_command(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "build", "latest", "--runs-dir", str(tmp_path)]) == 2
    assert "python -m reports:" in capsys.readouterr().err


def test_unknown_command_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    captured = capsys.readouterr()
    assert "unknown command 'frobnicate'" in captured.err and "typetest" in captured.out
    assert main(["--help"]) == 0
