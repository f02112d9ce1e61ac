"""A failing plan test shows the measurement facts, a few lines per point (issue 19 part 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rig.plan_failures import facts
from tests.rig.test_pytest_plugin import PLAN

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
# +3 % at every current: both points of the tiny plan fail (limit 0.5 %).
DEFECT = "energy_gain_error:percent=3,i_min_in=0,i_max_in=100"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    shutil.copy(ROOT / "testplans" / "test_accuracy.py", pytester.path / "test_accuracy.py")
    (pytester.path / "tiny.yaml").write_text(PLAN, encoding="utf-8")
    return pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
                              "--plan", str(pytester.path / "tiny.yaml"), "--no-report",
                              "--runs-dir", str(pytester.path / "runs"), "--defect", DEFECT,
                              *args)


def test_a_failing_point_is_its_facts_not_a_traceback(pytester: pytest.Pytester) -> None:
    result = _run(pytester)
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    # pytest's own short summary (`FAILED ... - message`) is cut to the terminal width, or not
    # at all when the CI variable is set: it is not counted.
    facts_lines = [x for x in result.outlines
                   if "active energy error FAIL" in x and not x.startswith("FAILED ")]
    # Each point twice: its failure report, and the full list at the end (never cut short).
    assert len(facts_lines) == 4, text
    assert all("against +-0.5 %" in x and "[IEC 60687 Table 9]" in x for x in facts_lines)
    for internals in ("Traceback", "def test_error", "recorder.py", "AssertionError"):
        assert internals not in text
    result.stdout.fnmatch_lines(["*meter-test-rig: 2 failing plan point(s)*",
                                 "test_accuracy.py::test_error[acc.tiny-0.1In-import]",
                                 "    position 1 active energy error FAIL: *"])
    assert len(result.outlines) < 45, text  # against 84 traceback lines per point before


def test_tracebacks_when_asked_for(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--tb=long")
    result.assert_outcomes(failed=2)
    assert "def assert_all_pass" in result.stdout.str()
    assert "failing plan point" not in result.stdout.str()


def test_an_error_that_is_not_a_verdict_names_its_type_and_place() -> None:
    def broken() -> None:
        raise ConnectionError("source: command 'OUTP:STAT?' failed: timeout")

    with pytest.raises(ConnectionError) as excinfo:
        broken()
    lines = facts(excinfo)
    assert lines[0] == "ConnectionError: source: command 'OUTP:STAT?' failed: timeout"
    assert lines[1].startswith(f"(raised at {__file__}:")
    assert lines[1].endswith("--tb=long shows the traceback)")
