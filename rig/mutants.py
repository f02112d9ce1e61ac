"""Mutation testing of the plan: the plan against every generated mutant of the software meter.

The mutants come from the meter model's structure (meter.a1000.mutations). One `pytest
testplans` run on the simulated bench carries a batch of them: position 1 keeps the healthy
meter (the control: it must pass every item, or the batch cannot judge), position k + 1 gets
mutant k (`--defect K=mutant:id=...`). A mutant is killed when any plan measurement at its
position has the verdict fail or error (read from the run's results store). Survivors are either
explained in testplans/mutation_explained.yaml (not a type-test matter, with the reason) or are
gaps of the plan.

    .venv/bin/python -m rig.mutants [--positions 12] [--only REGEX] [--readme]

`--readme` writes the kill rate and the survivors into the README's mutation table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from meter.a1000 import A1000, default_config
from meter.a1000.mutations import Mutant, mutants
from meter.readme import README, fill
from reports.records import Verdict
from reports.store import ResultsStore

ROOT = Path(__file__).resolve().parent.parent
EXPLAINED = ROOT / "testplans" / "mutation_explained.yaml"
KILLING = (Verdict.FAIL, Verdict.ERROR)


class MutationRunError(RuntimeError):
    """A batch could not judge its mutants (pytest crashed, or the healthy control failed)."""


@dataclass
class Outcome:
    mutant: Mutant
    killed_by: list[str] = field(default_factory=list)  # test ids with a fail/error verdict
    measured: int = 0  # measurements recorded at the mutant's position
    # Tests of its plan run that raised before recording any verdict, or failed the healthy
    # control: they judged no mutant of the batch (plan errors, shown with the results).
    crashed: list[str] = field(default_factory=list)

    @property
    def killed(self) -> bool:
        return bool(self.killed_by)


def all_mutants() -> list[Mutant]:
    """The mutants of the bundled A1000 in its default configuration."""
    return mutants(A1000(default_config(), start_time=0.0))


def load_explained(path: Path = EXPLAINED) -> dict[str, str]:
    """Survivors explained as not a type-test matter: mutant id -> reason."""
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out: dict[str, str] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("id") or not row.get("why"):
            raise ValueError(f"{path}: row {i + 1}: expected {{id: ..., why: ...}}")
        out[str(row["id"])] = str(row["why"])
    return out


def run_batch(
    batch: list[Mutant], *, plan: str, modules: Iterable[str] = ("testplans",),
    pytest_args: Iterable[str] = (), timeout_s: float = 3600,
) -> list[Outcome]:
    """One plan run: position 1 healthy, position k + 1 with batch[k]."""
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        cmd = [sys.executable, "-m", "pytest", *modules, "-q", "-rf", "-p", "no:cacheprovider",
               "--no-report", "--plan", plan, "--positions", str(len(batch) + 1),
               "--runs-dir", tmp, "-o", f"cache_dir={tmp}/cache", "--rootdir", str(ROOT),
               *pytest_args]
        for k, m in enumerate(batch, start=2):
            cmd += ["--defect", f"{k}={m.defect}"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout_s)
        out = proc.stdout + proc.stderr
        if proc.returncode not in (0, 1):
            raise MutationRunError(f"pytest exited {proc.returncode}:\n{out[-3000:]}")
        with ResultsStore.in_runs_dir(tmp, create=False) as store:
            runs = store.list_runs()
            if len(runs) != 1:
                raise MutationRunError(f"expected one run in the store, found {len(runs)}")
            rows = store.measurements(runs[0].run_id)
    # Every failed test must have failed on a verdict: a test that raised without recording
    # (the bench broke) judged no mutant.
    failed = set(re.findall(r"^FAILED (\S+?)(?: - |$)", out, flags=re.MULTILINE))
    if not any(r.position == 1 for r in rows):
        raise MutationRunError(f"the healthy control (position 1) recorded nothing\n{out[-3000:]}")
    # A test that fails the healthy control cannot tell a mutant from it: it judges no mutant of
    # the batch (shown with the results as a false failure of the plan).
    control = {r.test_id for r in rows if r.position == 1 and r.verdict in KILLING}
    crashed = sorted((failed - {r.test_id for r in rows if r.verdict in KILLING}) | control)
    outcomes = []
    for k, m in enumerate(batch, start=2):
        mine = [r for r in rows if r.position == k]
        killed = sorted({r.test_id for r in mine if r.verdict in KILLING} - control)
        outcomes.append(Outcome(m, killed, len(mine), crashed))
    return outcomes


#: The plan's register-capacity tests: 1500 h doses at Imax whose meters' catch-up grows with
#: positions enough to stall a 12-position run on a loaded machine (benchmarks/bench_typetest.py).
CAPACITY_TESTS = ("testplans/test_registers.py::test_register_capacity",
                  "testplans/test_register_rollover.py")


def plan_for(mutant: Mutant) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The pytest modules and extra arguments of the mutant's runs. A rollover (at 1/20 of the
    register's range, 5 000 units) shows only under a dose that takes a register past it, and
    only the capacity tests dose that much (the rest of the plan puts a few hundred units into
    any register): rollover mutants run against those; every other mutant runs against the
    whole plan without them."""
    if mutant.family == "register rollover":
        return CAPACITY_TESTS, ()
    return ("testplans",), tuple(a for t in CAPACITY_TESTS for a in ("--deselect", t))


def run_all(
    selected: list[Mutant], *, positions: int, plan: str, progress: bool = False,
) -> list[Outcome]:
    """Every selected mutant, `positions - 1` a run, grouped by the tests they run against
    (`plan_for`)."""
    outcomes: list[Outcome] = []
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Mutant]] = {}
    for m in selected:
        groups.setdefault(plan_for(m), []).append(m)
    per_run = positions - 1
    for (modules, args), group in groups.items():
        for start in range(0, len(group), per_run):
            outcomes += run_batch(group[start:start + per_run], plan=plan, modules=modules,
                                  pytest_args=args)
            if progress:
                killed = sum(o.killed for o in outcomes)
                print(f"  {len(outcomes)}/{len(selected)} mutants run, {killed} killed",
                      flush=True)
    return outcomes


def save(outcomes: list[Outcome], path: Path) -> None:
    path.write_text(json.dumps([{"id": o.mutant.id, "killed_by": o.killed_by,
                                 "measured": o.measured, "crashed": o.crashed}
                                for o in outcomes], indent=1), encoding="utf-8")


def load(paths: Iterable[Path]) -> list[Outcome]:
    """Outcomes saved by `save` (several partial runs), in the generator's order."""
    by_id = {m.id: m for m in all_mutants()}
    got: dict[str, Outcome] = {}
    for path in paths:
        for row in json.loads(path.read_text(encoding="utf-8")):
            got[row["id"]] = Outcome(by_id[row["id"]], row["killed_by"], row["measured"],
                                     row["crashed"])
    return [got[i] for i in by_id if i in got]


def table_markdown(outcomes: list[Outcome], explained: dict[str, str]) -> str:
    """Kill rate per family, then each survivor with its explanation (or 'plan gap')."""
    fams: dict[str, list[Outcome]] = {}
    for o in outcomes:
        fams.setdefault(o.mutant.family, []).append(o)
    killed = sum(o.killed for o in outcomes)
    survivors = [o for o in outcomes if not o.killed]
    n_expl = sum(o.mutant.id in explained for o in survivors)
    lines = [
        f"{len(outcomes)} mutants, {killed} killed ({100 * killed / len(outcomes):.1f} %), "
        f"{n_expl} survivors explained, {len(survivors) - n_expl} unexplained.",
        "",
        "| Family | Mutants | Killed |",
        "|---|---|---|",
    ]
    lines += [f"| {f} | {len(os_)} | {sum(o.killed for o in os_)} |" for f, os_ in fams.items()]
    crashed = sorted({t for o in outcomes for t in o.crashed})
    if crashed:
        lines += ["", "Plan tests that raised without a verdict or failed the healthy control "
                  "in some run (they judged no mutant of that run): "
                  + ", ".join(f"`{t}`" for t in crashed) + "."]
    if survivors:
        lines += ["", "| Survivor | Effect | Why it is not a type-test matter |", "|---|---|---|"]
        lines += [
            f"| `{o.mutant.id}` | {o.mutant.effect} | "
            f"{explained.get(o.mutant.id, '**unexplained: a gap of the plan**')}"
            + (f" (its run: {len(o.crashed)} plan tests judged no mutant)" if o.crashed else "")
            + " |"
            for o in survivors
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=12,
                        help="positions per plan run (position 1 is the healthy control)")
    parser.add_argument("--plan", default="iec60687-class0.5S")
    parser.add_argument("--only", default="", help="regular expression on the mutant ids")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--readme", action="store_true", help="write the README's table")
    parser.add_argument("--save", type=Path, help="write the outcomes to this JSON file")
    parser.add_argument("--load", type=Path, nargs="+",
                        help="take the outcomes from these JSON files instead of running")
    args = parser.parse_args(argv)
    if args.positions < 2:
        parser.error("--positions must be at least 2 (position 1 is the healthy control)")
    selected = [m for m in all_mutants() if re.search(args.only, m.id)]
    if args.list:
        for m in selected:
            print(f"{m.id:40s} {m.family:24s} {m.effect}")
        return 0
    if args.load:
        outcomes = [o for o in load(args.load) if re.search(args.only, o.mutant.id)]
    else:
        outcomes = run_all(selected, positions=args.positions, plan=args.plan, progress=True)
    if args.save:
        save(outcomes, args.save)
    explained = load_explained()
    table = table_markdown(outcomes, explained)
    print(table)
    if args.readme:
        text = README.read_text(encoding="utf-8")
        README.write_text(fill(text, {"mutation-table": table}), encoding="utf-8")
    unexplained = [o for o in outcomes if not o.killed and o.mutant.id not in explained]
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
