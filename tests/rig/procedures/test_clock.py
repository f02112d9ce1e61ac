"""The clock procedure carries its time reference into each result's budget and raw data."""

from __future__ import annotations

import math

from rig.procedures.clock import _reference_components, _reference_dict
from rig.timeref import TimeReference


def test_a_host_clock_bound_enters_the_budget_as_rectangular() -> None:
    # A synchronised host clock whose kernel bound (maxerror) is 12 ms: the instant is known to
    # +-12 ms, standard uncertainty 12 / sqrt(3) = 6.93 ms (GUM 4.3.7).
    ref = TimeReference(source="host clock", synchronised=True, uncertainty_s=0.012 / math.sqrt(3),
                        max_error_s=0.012, est_error_s=0.001, detail="kernel adjtimex")
    (component,) = _reference_components("first reading", ref)
    assert component.name == "time reference, first reading"
    assert math.isclose(component.standard_uncertainty, 0.012 / math.sqrt(3))
    assert _reference_dict(ref)["max_error_s"] == 0.012


def test_virtual_time_or_an_unbounded_host_clock_adds_nothing_but_is_stored() -> None:
    virtual = TimeReference(source="simulated bench virtual time", synchronised=True,
                            uncertainty_s=0.0)
    unsynced = TimeReference(source="host clock", synchronised=False, uncertainty_s=None)
    assert _reference_components("this reading", virtual) == []
    assert _reference_components("this reading", unsynced) == []
    assert _reference_components("this reading", None) == []
    assert _reference_dict(unsynced)["synchronised"] is False
    assert _reference_dict(None) is None
