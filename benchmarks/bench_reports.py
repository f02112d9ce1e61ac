"""Speed figures of the results store and the report builder.

    .venv/bin/python benchmarks/bench_reports.py [--positions 1,12,48] [--records N] [--no-pdf]
                                                 [--rounds N] [--runs DIR,DIR...]
                                                 [--trees TREE,TREE...]

Prints: committed measurements per second (each one its own durable transaction), and for
each batch size N the time (wall and CPU, with the load average) and size of a full report
for N meters with the usual 0.5S point
set (standards.md 1.8: PF 1 / 0.5L / 0.8C balanced in both directions, single elements), and
the time of its PDF print (headless Chromium; a run prints it after the build) in its phases:
browser start, page load, print (Page.printToPDF), close; with the CPU time of the browser's
processes (its process group, read from /proc) and the PDF's size and pages. `--rounds N`
prints each PDF N times and gives the median wall time (the machine's load drifts).
`--runs DIR,...` times the reports of real runs instead (runs folders of `pytest testplans
--no-report --runs-dir DIR`, e.g. the type test at 1, 12 and 48 positions): each folder is
copied, its latest run's report built and its PDF printed as above. The PDF printed is the
page a run prints (report.html with the results matrix in place of the per-position tables).
`--runs DIR,... --trees TREE,...` times whole builds instead, as a run builds its report
(`python -m reports build latest`, PDF included) with the reports package of each source tree
(e.g. the main checkout and a branch's), the trees alternating round by round on fresh copies
of each runs folder: wall and CPU time (the build's and its browser's), medians of --rounds.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import loadavg, proc_stats  # noqa: E402  (benchmarks/ is on sys.path)

from reports.analysis import analyse  # noqa: E402
from reports.build import build_report, load_for_report  # noqa: E402
from reports.page import page_renderer  # noqa: E402
from reports.pdf import (  # noqa: E402
    NO_PDF_ENV,
    chromium,
    load_for_print,
    print_loaded,
    why_no_pdf,
)
from reports.records import DecisionRule, Measurement, PositionRecord  # noqa: E402
from reports.store import ResultsStore  # noqa: E402
from rig.metrology import decide, error_budget, symmetric  # noqa: E402

LOADS = {"1": (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.2),
         "0.5L": (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.2),
         "0.8C": (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.2)}


def _limit(load: float, pf: str) -> float:
    # standards.md 1.2, class 0.5S balanced load
    if pf == "1":
        return 1.0 if load < 0.05 else 0.5
    return 1.0 if load < 0.1 else 0.6


def fill(store: ResultsStore, positions: int, seed: int = 1) -> tuple[str, int]:
    """A finished run of `positions` meters over the usual point set; (run id, count)."""
    rng = random.Random(seed)
    run = store.create_run(plan_name="benchmark", plan_version="0", operator="bench",
                           software_version="0", decision_rule=DecisionRule.GUARDED)
    n = 0
    for pos in range(1, positions + 1):
        store.add_position(PositionRecord(run.run_id, pos, serial=f"B{pos:05d}"))
        for direction in ("import", "export"):
            for element in ("balanced", "L1", "L2", "L3"):
                for pf, loads in LOADS.items():
                    if element != "balanced" and (pf == "0.8C" or direction == "export"):
                        continue
                    for load in loads:
                        lim = _limit(load, pf) if element == "balanced" else 1.0
                        budget = error_budget(reference_expanded=0.02,
                                              reference_counts=2e5 * load)
                        err = rng.gauss(0.05, 0.1)
                        store.record(Measurement(
                            run_id=run.run_id, test_id=f"bench::acc[{direction}-{element}]",
                            family="accuracy" if element == "balanced" else "single_element",
                            position=pos, quantity="active energy error", value=err,
                            unit="%", point={"load": load, "pf": pf, "direction": direction,
                                             "element": element},
                            limit_low=-lim, limit_high=lim,
                            expanded_uncertainty=budget.expanded,
                            uncertainty_budget=budget.to_json(),
                            verdict=decide(err, *symmetric(lim), rule=DecisionRule.GUARDED,
                                           expanded_uncertainty=budget.expanded),
                            decision_rule=DecisionRule.GUARDED))
                        n += 1
    store.finish_run(run.run_id)
    return run.run_id, n


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of the live processes of a process group (Linux /proc)."""
    total = sum(int(f[11]) + int(f[12]) for f in proc_stats().values() if int(f[2]) == pgid)
    return total / os.sysconf("SC_CLK_TCK")


def print_phases(html: Path, pdf: Path, *, number: str, content_hash: str) -> tuple[float, str]:
    """Print report.pdf as a run does, timing each phase; (wall seconds, one line)."""
    t0 = time.perf_counter()
    with chromium() as driver:
        t1 = time.perf_counter()
        load_for_print(driver, html)
        t2 = time.perf_counter()
        data = print_loaded(driver, pdf, title="bench", number=number,
                            content_hash=content_hash)
        t3 = time.perf_counter()
        cpu = group_cpu_seconds(driver.service.process.pid)  # chromedriver leads the group
    t4 = time.perf_counter()
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
    return t4 - t0, (f"report.pdf printed in {t4 - t0:.2f} s (start {t1 - t0:.2f}, load "
                     f"{t2 - t1:.2f}, print {t3 - t2:.2f}, close {t4 - t3:.2f}); browser CPU "
                     f"{cpu:.2f} s; {len(data) / 1e6:.2f} MB, {pages} pages; load average "
                     f"{loadavg()}")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--positions {text!r}: expected e.g. 1,12,48") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--positions {text!r}: positive counts expected")
    return sizes


def printed_page(run_id: str, runs: Path) -> Path:
    """The page a run prints to report.pdf (reports.page.Pages.printed), written beside
    the run's files as print.html."""
    path = runs / run_id / "print.html"
    path.write_text(page_renderer(analyse(load_for_report(run_id, runs))).printed(),
                    encoding="utf-8")
    return path


def report(runs: Path, run_id: str, what: str, args: argparse.Namespace) -> None:
    """Build the run's report (no PDF) timing it, then print its PDF `args.rounds` times."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = build_report(run_id, runs, pdf=False)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    html = result.files["html"]
    figures = html.read_text(encoding="utf-8").count('<figure class="plot')
    # CPU time beside the wall time: on a shared machine the wall time is mostly waiting.
    print(f"report, {what}, {figures} plots, built in {dt:.2f} s (CPU {cpu:.2f} s; "
          f"html, csv, json, sha256); report.html {html.stat().st_size / 1e6:.2f} MB, "
          f"measurements.csv {result.files['csv'].stat().st_size / 1e6:.2f} MB; "
          f"load average {loadavg()}", flush=True)
    if not args.pdf:
        return
    why = why_no_pdf()
    if why:
        print(f"  report.pdf not printed: {why}")
        return
    t0, c0 = time.perf_counter(), time.process_time()
    page = printed_page(run_id, runs)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  printed page rendered in {dt:.2f} s (CPU {cpu:.2f} s; with the analysis): "
          f"{page.stat().st_size / 1e6:.2f} MB", flush=True)
    walls = []
    for _ in range(max(1, args.rounds)):
        wall, line = print_phases(page, runs / run_id / "report.pdf", number=run_id,
                                  content_hash=result.content_hash)
        walls.append(wall)
        print(f"  {line}", flush=True)
    if len(walls) > 1:
        print(f"  report.pdf, {what}: median {statistics.median(walls):.2f} s of "
              f"{len(walls)}")


def whole_builds(folders: list[str], trees: list[Path], rounds: int) -> None:
    """`python -m reports build latest` (the PDF included, as a run builds its report) of
    each runs folder with the reports package of each source tree, the trees alternating
    round by round on fresh copies of the folder; medians of wall and CPU time, the CPU of
    the build's children (chromedriver, Chromium) included."""
    for folder in folders:
        walls: dict[Path, list[float]] = {t: [] for t in trees}
        cpus: dict[Path, list[float]] = {t: [] for t in trees}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(rounds):
                for tree in trees:
                    runs = Path(tmp) / f"runs-{r}-{len(walls[tree])}-{tree.name}"
                    shutil.copytree(folder, runs)
                    wall, cpu, code = _timed_build(tree, runs)
                    walls[tree].append(wall)
                    cpus[tree].append(cpu)
                    print(f"{folder} with {tree}: {wall:.2f} s wall, CPU {cpu:.2f} s "
                          f"(build and browser){'' if code == 0 else f', exit {code}'}; "
                          f"load average {loadavg()}", flush=True)
                    shutil.rmtree(runs)
        for tree in trees:
            print(f"{folder} with {tree}: median of {rounds}: "
                  f"{statistics.median(walls[tree]):.2f} s wall, "
                  f"CPU {statistics.median(cpus[tree]):.2f} s", flush=True)


def _timed_build(tree: Path, runs: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of one build: the CPU time of the build and of every process
    it starts (chromedriver, Chromium's processes), read from /proc every 0.1 s while they
    live (a process's time after the last look is missed: a few ticks)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "reports", "build", "latest", "--runs-dir",
                             str(runs)], cwd=tree, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={k: v for k, v in os.environ.items() if k != NO_PDF_ENV})
    seen: dict[int, int] = {}  # pid -> its last CPU ticks
    while proc.poll() is None:
        seen.update(_tree_ticks(proc.pid, seen))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    return wall, sum(seen.values()) / os.sysconf("SC_CLK_TCK"), proc.returncode


def _tree_ticks(root: int, known: dict[int, int]) -> dict[int, int]:
    """CPU ticks (user + system) of `root` and its live descendants, and of live processes
    in the sessions of these (Chromium's helpers that left the tree)."""
    stats = {pid: (int(f[1]), int(f[3]), int(f[11]) + int(f[12]))  # ppid, session, ticks
             for pid, f in proc_stats().items()}
    ours = {root} | {pid for pid in known if pid in stats}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _, _) in stats.items():
            if ppid in ours and pid not in ours:
                ours.add(pid)
                grew = True
    sessions = {stats[pid][1] for pid in ours if pid in stats} - {stats.get(root, (0, 0, 0))[1]}
    ours |= {pid for pid, (_, sid, _) in stats.items() if sid in sessions}
    return {pid: stats[pid][2] for pid in ours if pid in stats}


def _latest_run(store: Path) -> tuple[str, int, int]:
    """The latest run of a store: its id, measurements and positions."""
    with ResultsStore(store, create=False) as s:
        run_id = s.list_runs()[-1].run_id
    data = load_for_report(run_id, store.parent)
    return run_id, len(data.measurements), len(data.positions)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/bench_reports.py")
    parser.add_argument("--positions", type=_sizes, default=[1, 12, 48],
                        help="comma-separated batch sizes (default 1,12,48)")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=True,
                        help="time the PDF print of each report too (default: yes)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="print each PDF this many times; the median is shown")
    parser.add_argument("--runs", default="",
                        help="comma-separated runs folders of real runs to report on instead")
    parser.add_argument("--trees", default="",
                        help="with --runs: time whole builds (python -m reports build, PDF "
                             "included) with the reports package of each of these "
                             "comma-separated source trees, alternating (--rounds each)")
    args = parser.parse_args(argv)
    if args.trees:
        whole_builds([f for f in args.runs.split(",") if f],
                     [Path(t).resolve() for t in args.trees.split(",") if t],
                     max(1, args.rounds))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.runs:
            for i, folder in enumerate(f for f in args.runs.split(",") if f):
                runs = Path(tmp) / f"runs-{i}"
                shutil.copytree(folder, runs)
                run_id, n, positions = _latest_run(runs / "results.sqlite")
                report(runs, run_id, f"{folder}: {positions} position(s), {n} measurements",
                       args)
            return
        runs = Path(tmp) / "runs"
        with ResultsStore.in_runs_dir(runs) as store:
            run = store.create_run(plan_name="rate", plan_version="0", operator="b",
                                   software_version="0")
            t0 = time.perf_counter()
            for i in range(args.records):
                store.record(Measurement(
                    run_id=run.run_id, test_id=f"rate::x[{i}]", family="accuracy", position=1,
                    quantity="active energy error", value=0.01, unit="%", verdict="pass",
                    point={"load": 1.0, "i": i}, limit_low=-0.5, limit_high=0.5))
            dt = time.perf_counter() - t0
            print(f"store: {args.records} committed records in {dt:.2f} s "
                  f"({args.records / dt:.0f} records/s, synchronous=FULL, WAL)")
        for positions in args.positions:
            with ResultsStore.in_runs_dir(runs) as store:
                t0 = time.perf_counter()
                run_id, n = fill(store, positions)
                written = time.perf_counter() - t0
            report(runs, run_id, f"{positions} position(s): {n} measurements (written in "
                   f"{written:.2f} s)", args)


if __name__ == "__main__":
    main()
