"""rig.timeref: the clock tests' time reference, from the kernel's synchronisation state
(adjtimex(2): STA_UNSYNC 0x0040, TIME_ERROR 5, maxerror/esterror in microseconds), carried by
each clock reading (rig.meterlink.clock_offsets)."""

from __future__ import annotations

import math
import sys

import pytest

from meter.iec62056_21 import Client
from rig.meterlink import MeterLink, clock_offsets
from rig.sim import SimBench
from rig.timebase import VirtualTimebase
from rig.timeref import KernelClock, TimeReference, host_clock, read_kernel_clock, virtual_clock
from tests.rig.sim.conftest import SIM_BENCH
from tests.rig.test_meterlink import FAST


def test_a_synchronised_host_clock_has_its_kernel_bound_as_uncertainty() -> None:
    # chronyd/ntpd running: status 0x2001 (STA_PLL | STA_NANO), state TIME_OK, maxerror 12 ms.
    ref = host_clock(KernelClock(state=0, status=0x2001, maxerror_us=12000, esterror_us=350),
                     now=100.0)
    assert ref.synchronised is True
    assert ref.max_error_s == pytest.approx(0.012) and ref.est_error_s == pytest.approx(0.00035)
    # A bound read as a rectangular distribution: u = a / sqrt(3) (GUM 4.3.7) = 6.93 ms.
    assert ref.uncertainty_s == pytest.approx(0.012 / math.sqrt(3))
    assert ref.read_at == 100.0
    assert "synchronised, u = 6.93 ms" in str(ref)


@pytest.mark.parametrize(("state", "status"), [(5, 0x0040), (0, 0x0041), (5, 0x0001)])
def test_an_unsynchronised_host_clock_says_so_and_has_no_uncertainty(state, status) -> None:
    ref = host_clock(KernelClock(state=state, status=status, maxerror_us=16_000_000,
                                 esterror_us=16_000_000))
    assert ref.synchronised is False and ref.uncertainty_s is None
    assert "NOT synchronised, uncertainty unknown" in str(ref)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_the_kernel_is_read_through_adjtimex() -> None:
    kernel = read_kernel_clock()
    assert kernel is not None
    assert 0 <= kernel.state <= 5  # TIME_OK .. TIME_ERROR
    # The kernel caps maxerror at NTP_PHASE_LIMIT, 16 s (kernel/time/ntp.c).
    assert kernel.esterror_us >= 0 and 0 <= kernel.maxerror_us <= 16_000_000
    assert host_clock().source == "host clock"


def test_every_clock_reading_carries_the_reference_read_once_for_all_meters() -> None:
    asked: list[TimeReference] = []
    with SimBench(SIM_BENCH, positions=2, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        timebase = VirtualTimebase(sim.control)

        def reference() -> TimeReference:
            asked.append(virtual_clock(timebase.now()))
            return asked[-1]

        links = {}
        for number in (1, 2):
            url = sim.substitutions[f"sim:meter{number}"]
            links[number] = MeterLink(number, lambda url=url: Client(url, timing=FAST),
                                      "00000000", url, time_reference=reference)
        readings = clock_offsets(links, timebase, 0.05)
    assert len(asked) == 1
    assert [r.reference for r in readings.values()] == [asked[0], asked[0]]
    assert asked[0].uncertainty_s == 0.0 and asked[0].source == "simulated bench virtual time"
