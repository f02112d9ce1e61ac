"""Mutation testing of the plan: every generated mutant of the software A1000 against the full
plan on the simulated bench. Prints the kill rate per family, the survivors, the wall time and
the machine's load.

    .venv/bin/python benchmarks/bench_mutation.py [--positions 12] [--only REGEX]

Goal (the type-test issue): 100 % killed, or each survivor explained as not a type-test matter
(testplans/mutation_explained.yaml). Each plan run carries positions - 1 mutants.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import loadavg  # benchmarks/ is the script's own folder on sys.path

from rig.mutants import all_mutants, load_explained, run_all, table_markdown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=12)
    parser.add_argument("--plan", default="iec60687-class0.5S")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    selected = [m for m in all_mutants() if re.search(args.only, m.id)]
    print(f"{len(selected)} mutants, {args.positions} positions a run; load {loadavg()}",
          flush=True)
    t0 = time.perf_counter()
    outcomes = run_all(selected, positions=args.positions, plan=args.plan, progress=True)
    wall = time.perf_counter() - t0
    print(table_markdown(outcomes, load_explained()))
    runs = -(-len(selected) // (args.positions - 1))
    print(f"wall {wall:.0f} s for {runs} plan runs ({wall / runs:.0f} s a run); "
          f"load {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
