"""The run's bench time against its estimate, per plan family (issue 14 item 4: actual against
estimate in the report).

The rig's pytest plugin stores one run event per plan test (an ordinary store event, no schema
change): kind "bench_time", data {"nodeid", "family", "simulated_only", "estimate_s",
"minimum_s", "timeline_s"}: the test's planned seconds before the run (rig.benchtime, a
background item's end counting only what its hosts do not cover), its physical minimum and the
time it took on the bench (virtual time on the simulated bench, wall time on a lab bench).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reports.records import Event

BENCH_TIME = "bench_time"


@dataclass(frozen=True)
class FamilyTime:
    """A family's (or the run's) estimate and actual bench time, in seconds."""

    family: str
    tests: int
    estimate_s: float
    actual_s: float

    @property
    def ratio(self) -> float | None:
        """Actual over estimate (None when nothing was estimated)."""
        return self.actual_s / self.estimate_s if self.estimate_s > 0 else None


@dataclass(frozen=True)
class BenchTime:
    families: list[FamilyTime]  # longest actual first
    total: FamilyTime

    @property
    def known(self) -> bool:
        return bool(self.families)


def bench_time(events: Iterable[Event]) -> BenchTime:
    """Per family and in total, from the run's bench-time events (a resumed run's test that
    ran twice counts both times: both took bench time)."""
    sums: dict[str, list[float]] = {}
    for e in events:
        if e.kind != BENCH_TIME:
            continue
        acc = sums.setdefault(str(e.data.get("family", "")), [0, 0.0, 0.0])
        acc[0] += 1
        acc[1] += float(e.data.get("estimate_s") or 0.0)
        acc[2] += float(e.data.get("timeline_s") or 0.0)
    families = sorted((FamilyTime(f, int(n), est, act) for f, (n, est, act) in sums.items()),
                      key=lambda f: -f.actual_s)
    total = FamilyTime("total", sum(f.tests for f in families),
                       sum(f.estimate_s for f in families), sum(f.actual_s for f in families))
    return BenchTime(families, total)
