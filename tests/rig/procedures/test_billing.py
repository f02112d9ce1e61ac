"""The billing check's clock setting: the offset it states without a clock reading."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

from rig.hands import SimulatorHands
from rig.meterlink import clock_offsets
from rig.plan import load_plan
from rig.procedures.billing import set_clocks
from rig.sim import SimBench
from rig.timebase import VirtualTimebase
from tests.rig.sim.conftest import SIM_BENCH
from tests.rig.test_meterlink import links_of


def test_the_offset_bracket_a_clock_setting_states_holds_the_clock_read_after_it() -> None:
    item = next(i for i in load_plan("iec60687-class0.5S").items if i.id == "billing.monthly")
    with SimBench(SIM_BENCH, positions=3, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        hands = SimulatorHands(sim.control)

        @contextmanager
        def programming(*positions):
            numbers = [p.number for p in positions]
            hands.enter_programming(numbers)
            yield
            hands.leave_programming(numbers)

        rig = SimpleNamespace(programming=programming)
        links = links_of(sim)
        timebase = VirtualTimebase(sim.control)
        positions = [SimpleNamespace(number=n) for n in links]
        before = {n: c.offset_s for n, c in clock_offsets(links, timebase, 0.05).items()}
        # The clocks set 1000.5 s ahead: the target made whole by a wait for the next second.
        stated = set_clocks(rig, positions, links, timebase, lambda now: now + 1000.5, before,
                            item)
        measured = clock_offsets(links, timebase, 0.05)
        for n, (lo, hi) in stated.items():
            assert 0 < hi - lo < 5.0  # the writes take seconds at real line timing
            assert lo - measured[n].half_width_s <= measured[n].offset_s
            assert measured[n].offset_s <= hi + measured[n].half_width_s
            assert lo <= 1000.5 <= hi + 1.0  # the target: 1000.5 s ahead, made whole
