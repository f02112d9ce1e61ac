"""Proof that the plans catch faults (issue: the type test as pytest plans).

For each named defect of the software meter, the relevant plan modules run on the simulated
bench against meters with that defect: exactly the tests listed in testplans/fault_matrix.yaml
fail, each with a message that points at the cause; against the healthy meter every item of the
full plan passes. The table is documented in the README (a test checks the two agree).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meter.readme import README, fill
from rig.faults import load_matrix, matrix_markdown

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = load_matrix()


def _defect_arg(entry: dict) -> list[str]:
    if not entry.get("defect"):
        return []
    params = ",".join(f"{k}={v}" for k, v in (entry.get("params") or {}).items())
    return ["--defect", entry["defect"] + (f":{params}" if params else "")]


def _run(entry: dict, tmp_path: Path) -> tuple[set[str], str]:
    modules = [str(ROOT / "testplans" / m) for m in entry.get("run") or ["."]]
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf", "--no-report",
        "--runs-dir", str(tmp_path / "runs"), "-o", f"cache_dir={tmp_path / 'cache'}",
        "--rootdir", str(ROOT), *modules, *_defect_arg(entry),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), f"pytest exited {proc.returncode}:\n{out[-3000:]}"
    failed = set(re.findall(r"^FAILED testplans/(\S+?)(?: - |$)", out, flags=re.MULTILINE))
    return failed, out


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.get("defect") or "healthy" for e in ENTRIES])
def test_exactly_the_expected_tests_fail(entry: dict, tmp_path: Path) -> None:
    failed, out = _run(entry, tmp_path)
    expected = set(entry.get("fails") or [])
    assert failed == expected, (
        f"unexpected failures: {sorted(failed - expected)}\n"
        f"expected but passed: {sorted(expected - failed)}\n{out[-3000:]}"
    )
    for test_id in expected:
        # The failure message names the cause: search this test's report, up to the next one.
        header = re.search(rf"_{{3,}} {re.escape(test_id.split('::')[-1])} _{{3,}}\n", out)
        assert header, f"no failure report for {test_id}"
        report = re.split(r"\n_{3,} \S.*? _{3,}\n", out[header.end():], maxsplit=1)[0]
        assert re.search(entry["message"], report), (
            f"{test_id}: the failure does not say {entry['message']!r}"
        )


def test_readme_shows_the_matrix() -> None:
    text = README.read_text(encoding="utf-8")
    current = fill(text, {"fault-matrix": matrix_markdown(ENTRIES)})
    assert current == text, "README's fault matrix is stale: run python -m rig.faults"
