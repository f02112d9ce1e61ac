"""Events and ERR 1 warning bits against faults injected with the source.

A1000 manual 2.1.2 display codes 03 (over-current, reverse-run and power-down counts), 10..14
(phase voltage loss: count, time, energy, start, stop), 19 (all-phase voltage loss), 20..24
(phase failure; 201/202 one-/two-phase failure: two phases failing together count one
two-phase failure), 30..35 (over current, reverse run, power down start
and stop) and Appendix B (ERR 1 bits). Read through IEC 62056-21 with the meter's
manufacturer-specific codes: C.60.E (count)(cumulative duration s), C.61.E (start)(stop)
YYMMDDhhmmss of the latest occurrence, C.63.E (import)(export) kWh during voltage loss
(E = 1..3) and phase failure (E = 4..6); F.F.1 the ERR 1 byte.

Method for an event: the bench runs at Un, In, PF 1 (import); the meter clock offset is read
(MeterLink.clock_offset); counts, durations and energies are read; the fault is applied at
true time t_on for `duration_s` and removed at t_off; after the end is confirmed they are read
again. Checks, each against the plan item: count +1; duration = t_off - t_on (the meter
confirms start and end after the same `debounce_s`, so the debounce drops out) within
`timestamp_tolerance_s`; start stamp = t_on + debounce_s and stop stamp = t_off + debounce_s
(meter clock) within `timestamp_tolerance_s`; for voltage loss / phase failure the phase's
import energy during the event = the source's phase energy from start to stop confirmation
within one register digit plus the class allowance; the event's ERR 1 bit is set while the
event lasts and clear after. Voltage loss also gets the debounce check: two dips, each
shorter than the debounce, with a short gap between, must count nothing.

Method for an ERR 1 bit: apply the condition; F.F.1 must show the bit midway through it and
not after it is removed.

Thresholds used to size the injections (A1000 model documentation, Q/GDW 1354 family defaults
[L]): voltage loss below 78 % Un with current above 0.5 % In, ends above 85 % Un; phase failure
below 60 % Un with current below 0.5 % In; over current above 1.2 Imax; all-phase loss below
60 % Un with current above 5 % In; reverse run: export above 0.5 % of 3 Un In; over / under
voltage 1.15 / 0.80 Un; missing current: below 0.5 % In with voltage above 70 % Un while
another phase carries more than 5 % In.

The methods and their declared measurements: rig.procedures.events.Event.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import EventsItem
from rig.procedures import run
from rig.procedures.events import Event

pytestmark = pytest.mark.family("events")


def test_event(plan_item, rig, positions, recorder):
    item: EventsItem = plan_item
    run(Event(item, Rating.of(positions[0].config)), recorder, rig)
