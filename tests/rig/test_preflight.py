"""Bad input (issue 19 part 4): one row per case, each run for real through the plugin with a
plan test (pytester). Each must end in exactly one line naming the file / key / resource /
option and the reason, with no traceback and nothing energised.

Lab-bench rows use the real instruments of a running simulated bench (PyVISA over TCP, ptys)
with one thing in the bench file broken; the simulator's source then shows whether anything
was ever switched on. Simulated-bench rows stop before the simulator starts: no run is created.
"""

from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reports.store import ResultsStore, store_path
from rig.sim import SimBench
from tests.rig.test_pytest_plugin import PLAN

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
SIM_BENCH = ROOT / "benches" / "sim.yaml"


@dataclass
class Ctx:
    """What a row builds its arguments from."""

    dir: Path
    sim: SimBench
    silent_port: int
    closed_port: int

    @property
    def runs(self) -> Path:
        return self.dir / "runs"

    def lab_bench(self, change: Callable[[dict[str, Any]], None] | None = None) -> str:
        """The running simulator's bench as a lab bench file (real addresses), changed."""
        assert self.sim.bench_file is not None
        bench = yaml.safe_load(self.sim.bench_file.read_text(encoding="utf-8"))
        for inst in bench["instruments"].values():
            inst["options"] = {"timeout_ms": 300, "retries": 0}  # the silent rows end soon
        if change is not None:
            change(bench)
        path = self.dir / "lab.yaml"
        path.write_text(yaml.safe_dump(bench, sort_keys=False), encoding="utf-8")
        return str(path)

    def store_with_run(self) -> str:
        """A results store holding one run; returns its id."""
        with ResultsStore.in_runs_dir(self.runs) as store:
            run = store.create_run(plan_name="tiny", plan_version="0.1", operator="t",
                                   software_version="0", decision_rule="simple",
                                   bench_file="", bench_path="", lab="x", environment={},
                                   started_at=1.0e9)
        return run.run_id


def _resource(role: str, value: Callable[[Ctx], str]) -> Callable[[Ctx], list[str]]:
    def args(ctx: Ctx) -> list[str]:
        def change(bench: dict[str, Any]) -> None:
            bench["instruments"][role]["resource"] = value(ctx)
        return ["--bench", ctx.lab_bench(change)]
    return args


def _lab(change: Callable[[dict[str, Any]], None]) -> Callable[[Ctx], list[str]]:
    return lambda ctx: ["--bench", ctx.lab_bench(change)]


def _lab_with(option: str, value: str) -> Callable[[Ctx], list[str]]:
    return lambda ctx: ["--bench", ctx.lab_bench(), option, value]


def _not_utf8(name: str, text: str) -> Callable[[Ctx], Path]:
    def write(ctx: Ctx) -> Path:
        path = ctx.dir / name
        path.write_bytes(text.encode("utf-8").replace(b"Simulated", b"Simul\xe9ted")
                         .replace(b"two accuracy", b"two \xff accuracy"))
        return path
    return write


def _garbled_store(ctx: Ctx) -> str:
    """A store whose pages past the first are overwritten with garbage."""
    run_id = ctx.store_with_run()
    path = store_path(ctx.runs)
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data)):
        data[i] = (i * 131) % 251
    path.write_bytes(bytes(data))
    return run_id


def _text_timestamp(ctx: Ctx) -> str:
    run_id = ctx.store_with_run()
    db = sqlite3.connect(store_path(ctx.runs))
    db.execute("UPDATE run SET started_at = 'yesterday' WHERE run_id = ?", (run_id,))
    db.commit()
    db.close()
    return run_id


def _after(prepare: Callable[[Ctx], object], ctx: Ctx, args: list[str]) -> list[str]:
    """`args`, once `prepare` has made the store they are about."""
    prepare(ctx)
    return args


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change of the bench at a dotted path (list items by index)."""
    def change(bench: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = bench
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return change


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Ctx], list[str]]
    line: str  # regex the one line must match
    lab: bool = False  # a lab bench row: the simulator's source must never have been on


CASES = [
    # --- VISA resources: missing, refused, garbage, silent; of the source and the reference
    *[
        case
        for role in ("source", "reference")
        for case in (
            Case(f"{role}-missing", _resource(role, lambda c: "ASRL/dev/no_such_tty::INSTR"),
                 rf"{role}: .*open ASRL/dev/no_such_tty::INSTR.*No such file", lab=True),
            Case(f"{role}-refused",
                 _resource(role, lambda c: f"TCPIP::127.0.0.1::{c.closed_port}::SOCKET"),
                 rf"{role}: .*Connection refused.*resource TCPIP::127.0.0.1::\d+::SOCKET",
                 lab=True),
            Case(f"{role}-garbage", _resource(role, lambda c: "my fluke please"),
                 rf"lab.yaml: instruments.{role}.resource 'my fluke please': not a VISA "
                 r"resource string", lab=True),
            Case(f"{role}-silent",
                 _resource(role, lambda c: f"TCPIP::127.0.0.1::{c.silent_port}::SOCKET"),
                 rf"{role}: .*Timeout expired.*resource TCPIP::127.0.0.1::\d+::SOCKET",
                 lab=True),
        )
    ],
    # --- files
    Case("bench-not-utf8",
         lambda c: ["--bench", str(_not_utf8("b.yaml", SIM_BENCH.read_text())(c))],
         r"b.yaml: not UTF-8 text \(byte 0xe9 at offset \d+, line \d+\)"),
    Case("plan-not-utf8", lambda c: ["--plan", str(_not_utf8("p.yaml", PLAN)(c))],
         r"p.yaml: not UTF-8 text \(byte 0xff at offset \d+, line 3\)"),
    Case("bench-missing", lambda c: ["--bench", str(c.dir / "nope.yaml")],
         r"nope.yaml: cannot read: No such file"),
    Case("bench-not-yaml", lambda c: ["--bench", str(_write(c, "y.yaml", "lab: [unclosed\n"))],
         r"y.yaml: not valid YAML"),
    Case("bench-wrong-key", _lab(lambda b: b.update(safty=b.pop("safety"))),
         r"lab.yaml: safty: Extra inputs are not permitted", lab=True),
    Case("plan-missing", lambda c: ["--plan", "no-such-plan"], r"no such plan \(known plans"),
    Case("meter-port-missing", _lab(_set("positions.0.link", "/dev/no_such_tty")),
         r"lab.yaml: positions\[id=1\].link '/dev/no_such_tty': no such serial port", lab=True),
    Case("max-voltage-below-un", _lab(_set("safety.max_voltage", 200)),
         r"lab.yaml: safety.max_voltage: 200 V is below Un 220 V of position 1", lab=True),
    Case("served-simulator-gone",
         lambda c: ["--bench", c.lab_bench(_set("sim.control", f"127.0.0.1:{c.closed_port}"))],
         r"lab.yaml: sim.control 127.0.0.1:\d+: the served simulator does not answer", lab=True),
    Case("max-voltage-infinite", _lab(_set("safety.max_voltage", float("inf"))),
         r"lab.yaml: safety.max_voltage: Input should be a finite number", lab=True),
    # --- the results store
    Case("store-garbled-resume", lambda c: ["--resume", _garbled_store(c)],
         r"--resume \S+: .*results.sqlite.*(damaged|not a readable|malformed)"),
    Case("store-garbled-new-run", lambda c: _after(_garbled_store, c, []),
         r"--runs-dir: .*results.sqlite.*(damaged|not a readable|malformed)"),
    Case("store-text-timestamp", lambda c: ["--resume", _text_timestamp(c)],
         r"--resume \S+: run \S+: started_at 'yesterday' is not a number"),
    Case("resume-unknown-run", lambda c: _after(Ctx.store_with_run, c, ["--resume", "unknown"]),
         r"--resume unknown: .*no run 'unknown' \(latest: "),
    Case("runs-dir-is-a-file", lambda c: ["--runs-dir", str(_write(c, "runs.txt", "x"))],
         r"--runs-dir \S+runs.txt: not a directory"),
    Case("resume-no-store", lambda c: ["--resume", "unknown"],
         r"--resume unknown: no results store .*results.sqlite"),
    # --- options of the simulated bench
    Case("defect-unknown", lambda c: ["--defect", "no_such"],
         r"--defect 'no_such': unknown defect 'no_such'; known: \[.*'fast_clock'"),
    Case("defect-unknown-with-param", lambda c: ["--defect", "x:percnt=2"],
         r"--defect 'x:percnt=2': unknown defect 'x'"),
    Case("defect-misspelt-param", lambda c: ["--defect", "energy_gain_error:percnt=2"],
         r"--defect 'energy_gain_error:percnt=2': percnt: Extra inputs are not permitted"),
    Case("defect-bad-value", lambda c: ["--defect", "energy_gain_error:percent=lots"],
         r"--defect 'energy_gain_error:percent=lots': percent: Input should be a valid number"),
    Case("defect-not-key-value", lambda c: ["--defect", "energy_gain_error:percent"],
         r"--defect 'energy_gain_error:percent': parameter 'percent' is not key=value"),
    Case("defect-position-absent", lambda c: ["--defect", "5=fast_clock"],
         r"--defect '5=fast_clock': no position 5 on the bench \(positions 1..1"),
    Case("defect-position-absent-of-3",
         lambda c: ["--positions", "3", "--defect", "2,4=fast_clock"],
         r"--defect '2,4=fast_clock': no position 4 on the bench \(positions 1..3"),
    Case("positions-zero", lambda c: ["--positions", "0"], r"--positions 0: must be 1..99"),
    Case("positions-too-many", lambda c: ["--positions", "100"], r"--positions 100: must be 1..99"),
    Case("meter-model-no-module", lambda c: ["--meter-model", "x:y"],
         r"--meter-model: meter model 'x:y': cannot import 'x'"),
    Case("meter-model-no-class", lambda c: ["--meter-model", "meter.a1000:Nope"],
         r"--meter-model: meter model 'meter.a1000:Nope': module 'meter.a1000' has no 'Nope'"),
    # --- simulator options on a lab bench
    *[
        Case(f"lab-bench-with-{opt.strip('-')}", _lab_with(opt, value),
             rf"{opt}: for the simulated bench only; the lab bench .*lab.yaml", lab=True)
        for opt, value in (("--positions", "3"), ("--meter-model", "meter.a1000:A1000"),
                           ("--defect", "fast_clock"))
    ],
]


def _write(ctx: Ctx, name: str, text: str) -> Path:
    path = ctx.dir / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sim() -> Iterator[SimBench]:
    with SimBench(SIM_BENCH) as running:
        yield running


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A TCP port that accepts and never answers (an instrument that says nothing)."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield server.getsockname()[1]
    server.close()


def _closed_port() -> int:
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_nothing_is_energised(
    case: Case, pytester: pytest.Pytester, sim: SimBench, silent_port: int
) -> None:
    shutil.copy(ROOT / "testplans" / "test_accuracy.py", pytester.path / "test_accuracy.py")
    plan = pytester.path / "tiny.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    ctx = Ctx(pytester.path, sim, silent_port, _closed_port())
    args = case.args(ctx)
    with sim.world.access():
        seen = len(sim.world.source.transitions)
    plan_args = [] if "--plan" in args else ["--plan", str(plan)]
    result = pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
                                "--runs-dir", str(ctx.runs), *plan_args, *args)
    output = result.outlines + result.errlines
    matching = [line for line in output if re.search(case.line, line)]
    assert len(matching) == 1, "\n".join(output)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, "\n".join(output)
    text = "\n".join(output)
    for sign in ("Traceback", "INTERNALERROR", "ERROR at setup"):
        assert sign not in text, text
    assert not re.search(r"\d+ (passed|failed|errors?)\b", text), text  # no test ran
    with sim.world.access():
        assert sim.world.source.transitions[seen:] == []  # nothing switched on, ever
    if not case.lab:  # the simulated bench never started: no run was made
        if store_path(ctx.runs).exists() and case.id.startswith("resume-unknown"):
            with ResultsStore.in_runs_dir(ctx.runs) as store:
                assert len(store.list_runs()) == 1
        else:
            assert not store_path(ctx.runs).exists() or case.id.startswith("store-")


# --- `python -m rig.sim serve`: it must not say "ready" for a file the rig would refuse

SERVE_CASES = [
    ("wrong-top-level-key", lambda t: t.replace("safety:", "safty:"),
     r"safty: Extra inputs are not permitted"),
    ("wrong-position-key", lambda t: t.replace("meter_constant:", "meter_konstant:"),
     r"positions.0.meter_konstant: Extra inputs are not permitted"),
    ("wrong-sim-key", lambda t: t.replace("meter_reaction_s:", "meter_reaktion_s:"),
     r"sim: unknown key\(s\) meter_reaktion_s \(known: "),
    ("not-utf8", lambda t: t.replace("Simulated", "Simul\udce9ted"),
     r"bench.yaml: not UTF-8 text \(byte 0xe9"),
]


@pytest.mark.parametrize(("change", "line"), [c[1:] for c in SERVE_CASES],
                         ids=[c[0] for c in SERVE_CASES])
def test_sim_serve_refuses_a_bad_bench_file_in_one_line(
    tmp_path: Path, change: Callable[[str], str], line: str
) -> None:
    path = tmp_path / "bench.yaml"
    path.write_bytes(change(SIM_BENCH.read_text(encoding="utf-8")).encode(
        "utf-8", errors="surrogateescape"))
    proc = subprocess.run([sys.executable, "-m", "rig.sim", "serve", "--bench", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and "ready" not in proc.stdout, proc.stdout + proc.stderr
    assert len([x for x in proc.stderr.splitlines() if re.search(line, x)]) == 1, proc.stderr
    assert "Traceback" not in proc.stderr

