"""The VISA library is the user's choice (bench file `visa_library`, `--visa-library`), and a
library that is missing or cannot open a resource is one line naming role and resource, before
anything is energised."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rig.bench import Bench
from rig.bench.bench import VisaLibraryError
from rig.bench.config import load_bench_file

ROOT = Path(__file__).resolve().parents[3]
LAB_BENCH = ROOT / "benches" / "fluke6105a-com5003.yaml"
SIM_YAML = Path(__file__).resolve().parent / "data" / "fluke6105a_gpib.yaml"


def with_library(tmp_path: Path, library: str | None) -> Path:
    """The example lab bench file with `visa_library: <library>` (or without the key)."""
    text = LAB_BENCH.read_text(encoding="utf-8")
    if library is not None:
        text = f"visa_library: {library!r}\n" + text
    path = tmp_path / "bench.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_bench_file_library_is_used(tmp_path: Path) -> None:
    # pyvisa-sim ("<file>@sim") is a VISA library other than pyvisa-py: GPIB0::4::INSTR and the
    # COM5003's socket exist only in its YAML, so the drivers talking proves the choice.
    path = with_library(tmp_path, f"{SIM_YAML}@sim")
    with Bench.from_file(path) as bench:
        assert bench.source.identify() == "FLUKE,6105A,PYVISA-SIM,1.0"
        assert type(bench.source.adapter.resource.visalib).__module__.startswith("pyvisa_sim")
        assert bench.source.is_on() is False


def test_the_command_line_library_overrides_the_bench_file(tmp_path: Path) -> None:
    path = with_library(tmp_path, "@no-such-wrapper")
    with Bench.from_file(path, visa_library=f"{SIM_YAML}@sim") as bench:
        assert bench.reference.identify().startswith("ZERA GmbH Koenigswinter, COM5003")


def test_default_library_is_pyvisa_py(tmp_path: Path) -> None:
    assert load_bench_file(with_library(tmp_path, None)).visa_library == "@py"


def test_a_missing_library_is_one_line_naming_roles_and_resources(tmp_path: Path) -> None:
    with pytest.raises(VisaLibraryError) as caught:
        Bench.from_file(with_library(tmp_path, "@no-such-wrapper"))
    message = str(caught.value)
    assert "\n" not in message
    assert "'@no-such-wrapper'" in message
    assert "source GPIB0::4::INSTR" in message
    assert "reference TCPIP::192.168.10.20::6320::SOCKET" in message
    assert "--visa-library" in message


@pytest.mark.skipif(
    importlib.util.find_spec("gpib") is not None or importlib.util.find_spec("gpib_ctypes")
    is not None,
    reason="a GPIB package is installed: pyvisa-py would try the bus",
)
def test_gpib_through_pyvisa_py_without_its_package_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(VisaLibraryError) as caught:
        Bench.from_file(with_library(tmp_path, "@py"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("source: command 'open GPIB0::4::INSTR' failed:")
    assert "pip install 'meter-test-rig[gpib]'" in message
    assert "visa_library: '@ivi'" in message
