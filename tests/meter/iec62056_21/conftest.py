"""Shared fixtures: fast timing, a served DemoBank on a pty or TCP."""

from __future__ import annotations

import pytest

from meter.iec62056_21 import MeterServer, Timing

from .demo_bank import DemoBank

# Small time values so failures surface in fractions of a second (standards.md 6.6 values
# are the defaults; tests shrink them).
FAST = Timing(
    reaction_min=0.002,
    reaction_min_fast=0.001,
    reaction_max=0.15,
    answer_slack=0.1,
    inter_character=0.15,
    option_select_wait=0.5,
    inactivity=2.0,
)


@pytest.fixture(params=["pty", "tcp"])
def served(request):
    bank = DemoBank()
    with MeterServer(bank, transport=request.param, timing=FAST, block_size=7) as server:
        yield server, bank
