"""A pytest plugin for the scheduler's run-time test (tests/rig/test_schedule.py): it declares
the accuracy family a no-current host, which it is not (its points carry current), so the
scheduler puts it inside the no-load clock window and the clock's end must catch the loads."""

from rig.schedule import HOST_LOADS, Condition

HOST_LOADS["accuracy"] = Condition.NO_CURRENT
