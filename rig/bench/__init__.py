"""Bench files and the Bench: instruments by role, meter positions, safety limits, traceability."""

from rig.bench.bench import Bench
from rig.bench.config import BenchConfig, BenchFileError, Position, load_bench_file

__all__ = ["Bench", "BenchConfig", "BenchFileError", "Position", "load_bench_file"]
