"""Stopping the full plan on the simulated bench with real signals (run:
`.venv/bin/python benchmarks/bench_stop.py [--tries 20]`).

For SIGINT and SIGTERM, `--tries` times each: `pytest testplans` (the full plan) gets the signal
at a random moment (uniform in 0..--spread s after the run exists in the store). A try
succeeds when the rig exits with code 2, the run is `aborted`, the source is read back off
within 2 s of the signal (the run-log line `source off (verified)`), the log is in true order
and the report is marked INCOMPLETE/ABORTED without a conformity statement
(tests/rig/stoprun.py: stop_problems). Prints the success counts and the source-off times
(median, max) and the exit times (report included).

Exactly-once: the stops come in chains on one run: the plan, then `--resume` of it stopped
again, and so on until a resume completes it (a try whose resume ends before the signal ends
the chain). Each completed run is then compared with one uninterrupted reference run: the
same measurements (test id, position, point), each written once (`recorded_count` 1).

Served bench: `python -m rig.sim serve --realtime` (wall clock, watchdog armed by
benches/sim.yaml); the smoke plan on it gets SIGINT, SIGTERM or SIGKILL 0-1 s after the rig
first energises, `--served-tries` times each; the time to the served source's switch-off and
what did it (the rig, or the watchdog after SIGKILL).
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.rig.stoprun import (  # noqa: E402
    StoppedRun,
    measurement_keys,
    plan_command,
    run_record,
    served_realtime,
    source_off_after,
    start_energised,
    stop_problems,
    stop_run,
)

OFF_LIMIT_S = 2.0  # the target: source off within 2 s of the signal


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f} s"


def reference_keys(runs: Path) -> set[tuple[str, int, str]]:
    import subprocess

    done = subprocess.run(plan_command(runs), cwd=REPO, capture_output=True, text=True,
                          check=False)
    run_id, status, _ = run_record(runs)
    if done.returncode != 0 or status != "completed" or run_id is None:
        raise SystemExit(f"the reference run failed ({done.returncode}):\n{done.stdout[-3000:]}")
    return set(measurement_keys(runs, run_id))


def chain_complete(runs: Path, run_id: str, reference: set) -> list[str]:
    """What is wrong with a run that should now be complete, each measurement once."""
    _, status, _ = run_record(runs)
    keys = measurement_keys(runs, run_id)
    out = []
    if status != "completed":
        out.append(f"status {status!r} after the last resume")
    if set(keys) != reference:
        out.append(f"{len(reference - set(keys))} measurement(s) missing, "
                   f"{len(set(keys) - reference)} not in the reference run")
    twice = [k for k, n in keys.items() if n != 1]
    if twice:
        out.append(f"{len(twice)} measurement(s) written more than once, e.g. {twice[0]}")
    return out


def run_signal(sig: signal.Signals, tries: int, spread: float, base: Path,
               reference: set, rng: random.Random
               ) -> tuple[list[StoppedRun], int, int, list[str]]:
    """`tries` stops by `sig` in chains; returns the stopped runs, how many stopped safely,
    the chains completed exactly once, and every problem found. Each stop is judged when it
    happened (a later resume rewrites the run's status and report)."""
    stopped: list[StoppedRun] = []
    good = 0
    problems: list[str] = []
    chains_ok = chains = 0
    while len(stopped) < tries:
        chains += 1
        runs = base / f"{sig.name}-{chains}"
        r = stop_run(runs, sig, rng.uniform(0.0, spread))
        run_id = r.run_id
        while not r.finished_first and run_id is not None:
            stopped.append(r)
            bad = stop_problems(r, OFF_LIMIT_S)
            good += not bad
            problems += [f"{sig.name} try {len(stopped)}: {p}" for p in bad]
            print(f"  {sig.name} try {len(stopped):2d}: {r.sent_after_s:5.2f} s into the "
                  f"session, watcher woke after {_s(r.woke_after_s)}, source off after "
                  f"{_s(r.off_after_s)}, exit after {r.exit_after_s:.2f} s: "
                  f"{'ok' if not bad else '; '.join(bad)}", flush=True)
            # Resume: stopped again at a random moment, or (enough tries) left to finish.
            delay = rng.uniform(0.0, spread) if len(stopped) < tries else 1e9
            r = stop_run(runs, sig, delay, "--resume", run_id)
        if run_id is None:
            problems.append(f"{sig.name} chain {chains}: no run in the store")
            continue
        bad = chain_complete(runs, run_id, reference)
        chains_ok += not bad
        problems += [f"{sig.name} chain {chains}: {p}" for p in bad]
        print(f"  {sig.name} chain {chains} completed: {'ok' if not bad else '; '.join(bad)}",
              flush=True)
    return stopped, good, chains_ok, problems


def served(tries: int, base: Path, rng: random.Random) -> bool:
    """Signals and SIGKILL to a rig on a wall-clock served bench; True if all held."""
    import time

    ok = True
    with served_realtime() as (bench_file, control):
        watchdog_s = control.source()["watchdog"]["timeout_s"]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            offs, whys, codes = [], [], []
            for k in range(tries):
                proc = start_energised(bench_file, control, base / f"served-{sig.name}-{k}")
                time.sleep(rng.uniform(0.0, 1.0))
                sent = time.monotonic()
                proc.send_signal(sig)
                off, why = source_off_after(control, sent, watchdog_s + 30.0)
                proc.communicate(timeout=300)
                offs.append(off)
                whys.append(why)
                codes.append(proc.returncode)
            if sig == signal.SIGKILL:
                held = all(w == "watchdog" and o <= watchdog_s + 0.05 for o, w in
                           zip(offs, whys, strict=True))
                what = f"off by the watchdog ({watchdog_s:g} s) each time"
            else:
                held = all(w != "watchdog" and o <= OFF_LIMIT_S and c == 2 for o, w, c in
                           zip(offs, whys, codes, strict=True))
                what = f"off by the rig within {OFF_LIMIT_S:g} s, exit 2 each time"
            ok &= held
            print(f"served bench, {sig.name} x{tries}: source off after median "
                  f"{statistics.median(offs):.3f} s, max {max(offs):.3f} s; "
                  f"{what}: {'yes' if held else 'NO'} (switched off by: {sorted(set(whys))}; "
                  f"exit codes {sorted(set(codes))})", flush=True)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=20,
                    help="stops per signal of the full plan (default 20; 0: none)")
    ap.add_argument("--spread", type=float, default=8.0,
                    help="the signal comes uniformly within this many seconds of the start")
    ap.add_argument("--served-tries", type=int, default=5,
                    help="tries of each signal on a wall-clock served bench (0: none)")
    ap.add_argument("--signals", default="SIGINT,SIGTERM",
                    help="which signals stop the full plan, comma-separated (default "
                    "SIGINT,SIGTERM; one each in two processes halves the time)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed {seed}; full plan on the simulated bench; load average {_load()}")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-stop-") as tmp:
        base = Path(tmp)
        signals = _signals(ap, args.signals) if args.tries > 0 else []
        reference = reference_keys(base / "reference") if signals else set()
        if signals:
            print(f"reference run: {len(reference)} measurements")
        for sig in signals:
            stopped, good, chains_ok, problems = run_signal(sig, args.tries, args.spread, base,
                                                            reference, rng)
            offs = [r.off_after_s for r in stopped if r.off_after_s is not None]
            woke = [r.woke_after_s for r in stopped if r.woke_after_s is not None]
            exits = [r.exit_after_s for r in stopped]
            chains = len({r.runs_dir for r in stopped})
            print(f"{sig.name}: {good}/{len(stopped)} stopped safely (exit 2, aborted, source "
                  f"off and verified within {OFF_LIMIT_S:g} s, report INCOMPLETE/ABORTED); "
                  f"source off after median {statistics.median(offs):.3f} s, max "
                  f"{max(offs):.3f} s (stop watcher woke after median "
                  f"{statistics.median(woke) if woke else float('nan'):.3f} s, max "
                  f"{max(woke, default=float('nan')):.3f} s); process exit (report built) median "
                  f"{statistics.median(exits):.2f} s, max {max(exits):.2f} s; "
                  f"{chains_ok}/{chains} resumed run(s) complete, every measurement once")
            for p in problems:
                print(f"  PROBLEM {p}")
            ok &= not problems and good == len(stopped)
        if args.served_tries:
            ok &= served(args.served_tries, base, rng)
    print(f"load average at the end {_load()} (/proc/loadavg: 1, 5, 15 min)")
    return 0 if ok else 1


def _signals(ap: argparse.ArgumentParser, names: str) -> list[signal.Signals]:
    try:
        return [signal.Signals[n.strip()] for n in names.split(",") if n.strip()]
    except KeyError as exc:
        ap.error(f"--signals: no signal {exc} (e.g. SIGINT,SIGTERM)")
        raise  # not reached: ap.error exits


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): the figures depend on them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
