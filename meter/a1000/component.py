"""The plug-in interface of the A1000 event loop (docs/conventions.md section 4).

The meter (``meter.a1000.meter.A1000``) advances virtual time from event to event. Between
two events every input is constant. A *component* (demand, billing, load profile, events,
display: the part-2 modules) plugs into that loop:

* ``next_event(now)`` tells the loop when the component next needs to act (a demand period
  end, a billing time, a debounce expiry...). The loop never steps past it.
* ``accumulate(t0, t1, flow)`` receives the energy registered in every span [t0, t1) in
  which inputs, tariff and power state were constant.
* ``on_event(now)`` is called at every event time (of any source, not only this
  component's); the component acts when its own boundary is due.
* ``on_inputs``, ``on_power``, ``on_clock_set``, ``on_tariff`` notify of changes.
* ``snapshot()``/``restore()`` carry its non-volatile state (JSON-able dicts) through the
  meter's atomic state file (power-down, process kill).
* ``on_button(now, which)`` (optional) hears the meter's buttons: ``"display"`` and
  ``"reset"`` (a reset press outside the programming state, e.g. a manual demand reset).
* ``display_items()`` (optional) contributes display codes and their values to the LCD
  (``meter.a1000.display``), as ``obis_rows`` does to the OBIS map.
* ``repeats(now, steady_since)`` and ``fast_forward(jump)`` (optional, ``ComponentBase``) let
  the loop close many boundaries of a constant span at once (``meter.A1000._fast_forward``):
  a component that returns None from ``repeats`` (the default) keeps the loop event by event.
* ``obis_rows()`` (optional) contributes rows to the meter's OBIS map; see
  ``meter.a1000.obis_map`` for the row type. That is how part-2 quantities (demand,
  billing values ``*101``, load profile ``P.01``...) reach the readout, R1 and W1.

Times are true times (float seconds since 1970, docs/conventions.md section 2). A component that
needs the meter's own clock (billing date, demand periods aligned to the meter's minutes)
converts with ``meter.clock.meter_seconds(t)`` / ``meter.clock.true_time(meter_s)``; its
factory receives the meter (``COMPONENT_FACTORIES`` in ``meter.a1000.meter``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

from meter.a1000.defects import DefectSpec, register_defect

if TYPE_CHECKING:
    from meter.a1000.obis_rows import ObisRow
    from meter.electrical import Measurements


# One display code's value (manual 2.1.2 item 7): (true time now, record: None = the present,
# 0 = the latest historical one) -> (value, unit) as the LCD shows them.
DisplayValue = Callable[[float, int | None], tuple[str, str]]


@dataclass(frozen=True)
class EnergyFlow:
    """Energy registered in one span [t0, t1) (after error model, starting and anti-creep).

    Energies in kWh / kvarh / kVAh; powers in kW / kvar / kVA (constant over the span).
    ``tariff`` is the tariff in force (1..4). ``powered`` is False while the meter is
    powered down (all energies then zero).
    """

    import_: float
    export: float
    q1: float
    q2: float
    q3: float
    q4: float
    apparent_import: float  # S+ (QI + QIV)
    apparent_export: float  # S- (QII + QIII)
    phase_import: tuple[float, float, float]  # per element active import, kWh
    phase_export: tuple[float, float, float]
    p_import_kw: float
    p_export_kw: float
    q1_kvar: float
    q2_kvar: float
    q3_kvar: float
    q4_kvar: float
    s_kva: float
    tariff: int
    powered: bool = True

    @property
    def apparent(self) -> float:
        return self.apparent_import + self.apparent_export


@dataclass(frozen=True)
class Repeat:
    """How a component's boundaries repeat while the inputs stay constant (the fast-forward).

    ``at``: meter seconds of the boundary the component has just closed (None: it has no
    periodic boundary and is idle; its ``next_event`` then only bounds the jump); ``step``: meter
    seconds between its boundaries; ``period``: meter seconds after which its state (other than
    what the jump replays) repeats, a multiple of ``step``."""

    at: float | None
    step: int = 0
    period: int = 0


#: A component without periodic boundaries, untouched by a jump (only its next event bounds it).
IDLE = Repeat(None)


@dataclass(frozen=True)
class Jump:
    """A fast-forward over a constant span (``meter.A1000._fast_forward``): the loop's events
    at the meter times ``ends`` (every boundary of every component, ascending; the last one is
    the landing point, a boundary of all), and ``hours[j]``, the length of the span that ends at
    ``ends[j]`` exactly as the event loop computes it ((t1 - t0) / 3600 of the true times).
    ``unit`` is the span's EnergyFlow for one hour (its energies equal its powers). ``ends`` and
    ``hours`` are float64 arrays (a long jump holds tens of thousands; a component converts only
    what it walks one by one)."""

    ends: np.ndarray
    hours: np.ndarray
    unit: EnergyFlow
    t_end: float  # true time of ends[-1]
    steady_since: float  # true time since which the flow has been constant (``repeats``)


@runtime_checkable
class Component(Protocol):
    """A part of the meter driven by the event loop. ``name`` keys its snapshot."""

    name: str

    def next_event(self, now: float) -> float | None:
        """True time of this component's next boundary (> now), or None."""
        ...

    def accumulate(self, t0: float, t1: float, flow: EnergyFlow) -> None: ...

    def on_event(self, now: float) -> None: ...

    def on_inputs(self, now: float, m: Measurements) -> None: ...

    def on_power(self, now: float, up: bool) -> None: ...

    def on_clock_set(self, now: float, old_meter_s: float, new_meter_s: float) -> None: ...

    def on_tariff(self, now: float, old: int, new: int) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, d: dict[str, Any]) -> None: ...


class ComponentBase:
    """Convenience base: every hook does nothing, so a component overrides only its own.

    Deriving from it is optional; the loop only relies on the ``Component`` protocol.
    ``obis_rows`` returns the rows this component adds to the OBIS map.
    """

    name = "component"

    def next_event(self, now: float) -> float | None:
        return None

    def accumulate(self, t0: float, t1: float, flow: EnergyFlow) -> None:
        return None

    def on_event(self, now: float) -> None:
        return None

    def on_inputs(self, now: float, m: Measurements) -> None:
        return None

    def on_power(self, now: float, up: bool) -> None:
        return None

    def on_clock_set(self, now: float, old_meter_s: float, new_meter_s: float) -> None:
        return None

    def on_tariff(self, now: float, old: int, new: int) -> None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, d: dict[str, Any]) -> None:
        return None

    def obis_rows(self) -> list[ObisRow]:
        return []

    def repeats(self, now: float, steady_since: float) -> Repeat | None:
        """How this component may be fast-forwarded from now; None: not now (event by event).
        ``steady_since``: true time since which the meter's inputs, registered powers, tariff,
        power state, clock setting and programming state have not changed."""
        return None

    def fast_forward(self, jump: Jump) -> None:
        """Do what the event loop would do over ``jump`` (called only when every component's
        ``repeats`` allowed it); an idle component has nothing to do."""
        return None

    def display_items(self) -> dict[str, DisplayValue]:
        """Display codes (manual 2.1.2 item 7) whose values this component keeps."""
        return {}


# ---------------------------------------------------------------- helpers of the components


class NoParams(BaseModel):
    """Parameter model of a defect without parameters (part-2 defects)."""

    model_config = ConfigDict(extra="forbid")


def register_defects(defects: dict[str, tuple[str, str]]) -> None:
    """Register named defects (name -> (effect, test that must catch it)) in the core's one
    defect registry; the component applies the effect when the name is active."""
    for name, (effect, caught_by) in defects.items():
        register_defect(DefectSpec(name, NoParams, effect, caught_by, core=False))


def config_section(config: Any, name: str) -> dict[str, Any]:
    """A part-2 configuration section as a dict ({} when the configuration has none)."""
    v = getattr(config, name, None)
    if v is None:
        return {}
    if hasattr(v, "model_dump"):
        return dict(v.model_dump())
    return dict(v)


def defect_names(meter: Any) -> tuple[str, ...]:
    defects = getattr(meter, "defects", None)
    return tuple(getattr(defects, "names", ()))
