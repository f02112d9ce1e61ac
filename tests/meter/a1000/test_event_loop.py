"""The event loop and the Component protocol (docs/conventions.md 4) with a probe component."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meter.a1000.component import Component, ComponentBase, EnergyFlow
from meter.a1000.meter import A1000
from meter.a1000.obis_map import ObisRow
from meter.electrical import ElectricalInputs, Measurements
from tests.meter.a1000.helpers import T0, ideal_config

U, I_A = 57.7, 0.5
KW = 3 * U * I_A / 1000


class Probe(ComponentBase):
    """Fires every 900 s of true time and records everything it is told."""

    name = "probe"

    def __init__(self, meter: A1000) -> None:
        self.meter = meter
        self.period = 900.0
        self.next_due = meter.now + self.period
        self.fired: list[float] = []
        self.energy = 0.0
        self.spans: list[tuple[float, float]] = []
        self.tariffs: list[tuple[int, int]] = []
        self.power: list[bool] = []
        self.inputs = 0
        self.clock_sets: list[tuple[float, float]] = []
        self.count = 0  # non-volatile

    def next_event(self, now: float) -> float | None:
        return self.next_due

    def accumulate(self, t0: float, t1: float, flow: EnergyFlow) -> None:
        self.energy += flow.import_
        self.spans.append((t0, t1))
        assert flow.p_import_kw * (t1 - t0) / 3600 == pytest.approx(flow.import_)

    def on_event(self, now: float) -> None:
        if now >= self.next_due:
            self.fired.append(now)
            self.count += 1
            self.next_due += self.period

    def on_inputs(self, now: float, m: Measurements) -> None:
        self.inputs += 1

    def on_power(self, now: float, up: bool) -> None:
        self.power.append(up)

    def on_clock_set(self, now: float, old: float, new: float) -> None:
        self.clock_sets.append((old, new))

    def on_tariff(self, now: float, old: int, new: int) -> None:
        self.tariffs.append((old, new))

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count}

    def restore(self, d: dict[str, Any]) -> None:
        self.count = d["count"]

    def obis_rows(self) -> list[ObisRow]:
        return [ObisRow("C.99.0", "probe count", None, "test", lambda m: (str(self.count),),
                        None, True)]


def test_probe_satisfies_the_protocol() -> None:
    m = A1000(ideal_config(), start_time=T0, components=[Probe])
    assert isinstance(m.component("probe"), Component)


def test_loop_steps_on_every_boundary_and_spans_tile_time() -> None:
    m = A1000(ideal_config(), start_time=T0, components=[Probe])
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_A, 0))
    m.advance_to(T0 + 86400)
    p = m.component("probe")
    assert isinstance(p, Probe)
    assert p.fired == [T0 + 900 * k for k in range(1, 97)]
    assert p.spans[0][0] == T0 and p.spans[-1][1] == T0 + 86400
    assert all(a[1] == b[0] for a, b in zip(p.spans, p.spans[1:], strict=False))
    assert p.energy == pytest.approx(m.register("import"), rel=1e-12)
    # T0 is Monday 00:00:00; the switch delay (0.02 s) keeps Sunday's weekend tariff 3 for
    # an instant. Then profile 1: 07:00, 08:00, 11:00, 17:00, 20:00, 22:00, and 00:00 again.
    assert p.tariffs == [(3, 4), (4, 2), (2, 1), (1, 2), (2, 1), (1, 2), (2, 3), (3, 4)]
    assert p.inputs == 1 and p.power == [True]


def test_power_clock_and_persistence_hooks(tmp_path: Path) -> None:
    m = A1000(ideal_config(), start_time=T0, state_dir=tmp_path, components=[Probe])
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_A, 0))
    m.advance_to(T0 + 3600)
    m.set_clock(m.now, m.meter_seconds() + 10)
    m.set_inputs(m.now, ElectricalInputs.dead())
    p = m.component("probe")
    assert isinstance(p, Probe)
    assert p.power == [True, False] and len(p.clock_sets) == 1
    assert p.clock_sets[0][1] - p.clock_sets[0][0] == pytest.approx(10)
    again = A1000(ideal_config(), start_time=m.now + 5, state_dir=tmp_path, components=[Probe])
    q = again.component("probe")
    assert isinstance(q, Probe) and q.count == 4
    rows = {d.address: d for d in again.register_bank().readout()}
    assert rows["C.99.0"].values[0].value == "4"  # part-2 rows reach the readout


def test_time_never_runs_backwards() -> None:
    m = A1000(ideal_config(), start_time=T0, components=[])
    m.advance_to(T0 + 10)
    with pytest.raises(ValueError, match="before now"):
        m.advance_to(T0 + 5)
