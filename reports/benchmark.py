"""Speed figures of the results store and the report builder.

    python -m reports.benchmark [--positions N] [--records N]

Prints: committed measurements per second (each one its own durable transaction) and the
time and size of a full report for a batch of N meters with the usual 0.5S point set
(standards.md 1.8: PF 1 / 0.5L / 0.8C balanced in both directions, single elements).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from reports.build import build_report
from reports.decision import decide, error_budget, symmetric
from reports.records import DecisionRule, Measurement, PositionRecord
from reports.store import ResultsStore

LOADS = {"1": (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.2),
         "0.5L": (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.2),
         "0.8C": (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.2)}


def _limit(load: float, pf: str) -> float:
    # standards.md 1.2, class 0.5S balanced load
    if pf == "1":
        return 1.0 if load < 0.05 else 0.5
    return 1.0 if load < 0.1 else 0.6


def fill(store: ResultsStore, positions: int, seed: int = 1) -> tuple[str, int]:
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reports.benchmark")
    parser.add_argument("--positions", type=int, default=12)
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
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
            t0 = time.perf_counter()
            run_id, n = fill(store, args.positions)
            print(f"store: batch of {args.positions} positions, {n} measurements written in "
                  f"{time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        result = build_report(run_id, runs)
        dt = time.perf_counter() - t0
        html = result.files["html"]
        figures = html.read_text(encoding="utf-8").count('<figure class="plot"')
        print(f"report: {n} measurements, {figures} plots, built in {dt:.2f} s; "
              f"report.html {html.stat().st_size / 1e6:.2f} MB, measurements.csv "
              f"{result.files['csv'].stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
