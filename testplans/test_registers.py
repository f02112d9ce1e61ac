"""Four-quadrant reactive registers: a load in quadrant k advances register 5.8.0 + (k - 1)
(OBIS C = 5..8: Q1..Q4, standards.md 7) by the reference reactive energy, and leaves the other
three alone (IEC quadrant convention, standards.md 2.1 [H]). A meter that books reactive energy
in the wrong quadrant fails here even when its pulse outputs are right.

Method: registers read with the current off; the load applied for energy_kvarh / |Q|; the
current removed (voltage kept); registers read again. The reference energy comes from the
reference standard's energy register (or its reactive power times the dwell). Resolution: one
register digit (0.01 kvarh) on each reading.
"""

from __future__ import annotations

import time

import pytest

from reports.decision import combine, rectangular
from reports.records import Verdict
from rig.instruments.loadpoint import NORMAL_SEQUENCE, LoadPoint, PhaseSetting, normalise_angle
from rig.instruments.roles import Quantity
from rig.loads import Rating
from rig.measure import settle
from rig.meterlink import each
from rig.plan import RegisterItem
from rig.recorder import Recorder

pytestmark = pytest.mark.family("register")

REGISTERS = {1: "1-1:5.8.0", 2: "1-1:6.8.0", 3: "1-1:7.8.0", 4: "1-1:8.8.0"}
# phi per quadrant (docs/conventions.md 1: P = UI cos phi, Q = UI sin phi):
# Q1 (+P +Q) ... Q4 (+P -Q).
PHI = {1: 60.0, 2: 120.0, 3: -120.0, 4: -60.0}
DIGIT = 0.01  # kvarh, register format 99999.99 (A1000 manual 1.1 item 5)
SETTLING_S = 2.0


def quadrant_point(rating: Rating, x: float, quadrant: int) -> LoadPoint:
    phi = PHI[quadrant]
    phases = tuple(
        PhaseSetting(rating.un, x * rating.in_, ua, normalise_angle(ua - phi))
        for ua in NORMAL_SEQUENCE
    )
    return LoadPoint(phases)  # type: ignore[arg-type]


@pytest.mark.parametrize("quadrant", [1, 2, 3, 4])
def test_quadrant_register(plan_item, quadrant, rig, bench, timebase, positions, recorder):
    item: RegisterItem = plan_item
    numbers = [p.number for p in positions]
    desc = {"load": item.current, "quadrant": quadrant}
    done = recorder.done(numbers, desc)
    if done is None:
        rating = Rating.of(positions[0].config)
        load = quadrant_point(rating, item.current, quadrant)
        idle = load.scaled_current(0.0)
        settle(bench, timebase, idle, SETTLING_S)
        links = {p.number: rig.link(p) for p in positions}
        before = each(links, lambda link: link.values(REGISTERS.values()))
        started = time.time()
        recorder.started(numbers, desc)
        bench.reference.set_mode(rating.wiring, Quantity.REACTIVE)
        q_var = abs(load.reactive_power)
        seconds = item.energy_kvarh * 3.6e6 / q_var
        if bench.energy is not None:
            bench.energy.start()
        bench.energise(load)
        timebase.dwell(seconds, label=f"Q{quadrant} energy")
        bench.energise(idle)
        if bench.energy is not None:
            bench.energy.stop()
            reference = abs(bench.energy.energy())
        else:
            reference = q_var * seconds / 3.6e6
        done = []
        afters = each(links, lambda link: link.values(REGISTERS.values()))
        with recorder.batch():  # every position's results in one commit
            for n, after in afters.items():
                advance = {k: float(after[a] - before[n][a]) for k, a in REGISTERS.items()}
                own = advance[quadrant]
                others = {k: v for k, v in advance.items() if k != quadrant}
                error = (own - reference) / reference * 100.0
                budget = combine([rectangular("register digit, two readings",
                                              2 * DIGIT / reference * 100.0)])
                stray = max(others.values())
                message = (
                    f"Q{quadrant} load: Q{quadrant} register +{own:.2f} kvarh for "
                    f"{reference:.3f} kvarh reference; other quadrants "
                    + ", ".join(f"Q{k} +{v:.2f}" for k, v in others.items())
                )
                verdict = None
                if stray > DIGIT:
                    verdict = Verdict.FAIL
                    message += ": energy booked in the wrong quadrant register"
                done.append(recorder.record(
                    n, desc, f"Q{quadrant} register error", error, "%",
                    limit_low=-item.limit, limit_high=item.limit, budget=budget,
                    raw={"advance_kvarh": {f"Q{k}": v for k, v in advance.items()},
                         "reference_kvarh": reference},
                    started_at=started, message=message, verdict=verdict,
                ))
    Recorder.assert_all_pass(done)
