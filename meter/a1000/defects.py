"""Named defects: turn the healthy software A1000 into a faulty one.

The type-test plans must fail a faulty meter; each defect names the test that must catch it.
One registry maps a name to its parameter model and its effect. A configuration lists
defects as ``[{name: energy_gain_error, percent: 1.5, ...}, ...]`` (``defects:`` in the
meter YAML) or ``A1000(..., defects=[...])``.

``defect_table_markdown()`` renders the registry for the README.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnergyGainError(_Params):
    """Extra percentage error in a current region (a mis-calibrated gain stage)."""

    percent: float = Field(1.5, ge=-50, le=50)
    i_min_in: float = Field(0.05, ge=0)  # region lower bound, multiples of In
    i_max_in: float = Field(0.2, gt=0)  # region upper bound (exclusive)
    quantities: tuple[str, ...] = ("active",)

    @model_validator(mode="after")
    def _check(self) -> EnergyGainError:
        if self.i_max_in <= self.i_min_in:
            raise ValueError("i_max_in must be above i_min_in")
        bad = set(self.quantities) - {"active", "reactive", "apparent"}
        if bad:
            raise ValueError(f"unknown quantities {sorted(bad)} (active, reactive, apparent)")
        return self


class ReactiveQuadrantMixup(_Params):
    """Reactive energy booked in the wrong quadrant register (a sign error on Q)."""

    swaps: tuple[tuple[int, int], ...] = ((1, 4), (2, 3))

    @model_validator(mode="after")
    def _check(self) -> ReactiveQuadrantMixup:
        for a, b in self.swaps:
            if a not in range(1, 5) or b not in range(1, 5) or a == b:
                raise ValueError(f"swap ({a}, {b}) must name two different quadrants 1..4")
        return self


class NoAntiCreep(_Params):
    """No anti-creep: registers a spurious power with voltage only."""

    creep_fraction: float = Field(0.005, gt=0, le=0.1)  # of U*In per element


class StartingThresholdHigh(_Params):
    """Starting threshold above the class 0.5S 0.001 In."""

    threshold_in: float = Field(0.003, gt=0.001, le=0.1)


class WrongPulseConstant(_Params):
    """Pulse outputs and LEDs run at constant*factor while the nameplate says constant."""

    factor: float = Field(1.01, gt=0.1, le=10)


class SlowTariffSwitch(_Params):
    """Tariff switches this long after the clock crosses the boundary."""

    delay_s: float = Field(0.5, gt=0, le=3600)


class FastClock(_Params):
    """The real-time clock gains this many seconds a day (replaces the configured drift)."""

    seconds_per_day: float = Field(2.0, ge=-3600, le=3600)


class EnergyLostAtPowerDown(_Params):
    """The power-down save is skipped: energy since the last periodic save is lost."""


@dataclass(frozen=True)
class DefectSpec:
    name: str
    params: type[BaseModel]
    effect: str
    caught_by: str
    core: bool = True  # False: the effect lives in a component, which checks Defects.names


REGISTRY: dict[str, DefectSpec] = {
    s.name: s
    for s in (
        DefectSpec(
            "energy_gain_error",
            EnergyGainError,
            "adds `percent` to the error of the chosen quantities for i_min_in*In <= I < "
            "i_max_in*In (per element)",
            "accuracy vs current (standards.md 1.2): points inside the region exceed +-0.5 %",
        ),
        DefectSpec(
            "reactive_quadrant_mixup",
            ReactiveQuadrantMixup,
            "books reactive energy of quadrant a into b and b into a for each swap",
            "four-quadrant reactive registers (standards.md 2.1): Q1..Q4 register test",
        ),
        DefectSpec(
            "no_anti_creep",
            NoAntiCreep,
            "with current below the starting threshold each element registers "
            "creep_fraction*U*In",
            "no-load test at 115 % Un (standards.md 1.4): more than one pulse",
        ),
        DefectSpec(
            "starting_threshold_high",
            StartingThresholdHigh,
            "elements below threshold_in*In register nothing",
            "starting current test at 0.001 In (standards.md 1.4): no pulse",
        ),
        DefectSpec(
            "wrong_pulse_constant",
            WrongPulseConstant,
            "pulse outputs and LEDs use constant*factor; registers unaffected",
            "meter constant test (standards.md 1.4) and pulse-based accuracy tests",
        ),
        DefectSpec(
            "slow_tariff_switch",
            SlowTariffSwitch,
            "tariff switches delay_s after the boundary instead of the healthy 0.02 s",
            "TOU switching delay test (A1000 manual 3.2.4: < 0.1 s; standards.md 4.3)",
        ),
        DefectSpec(
            "fast_clock",
            FastClock,
            "clock drift becomes seconds_per_day",
            "clock accuracy test (A1000 manual 3.2.3: +-0.5 s/day; standards.md 4.2)",
        ),
        DefectSpec(
            "energy_lost_at_power_down",
            EnergyLostAtPowerDown,
            "power-down does not save; registers restart from the last periodic save",
            "power-down / power-up register retention (standards.md 5.1: no data loss)",
        ),
    )
}


class DefectError(ValueError):
    pass


def register_defect(spec: DefectSpec) -> None:
    """Add a component's defect to the one registry (part 2 calls this at import).

    The component applies the effect itself; it finds active defects in
    ``meter.defects.names`` and their parameters in ``meter.defects.params(name)``.
    """
    existing = REGISTRY.get(spec.name)
    if existing is not None and existing != spec:
        raise DefectError(f"defect {spec.name!r} is already registered differently")
    REGISTRY[spec.name] = DefectSpec(spec.name, spec.params, spec.effect, spec.caught_by, False)


@dataclass(frozen=True)
class Defects:
    """The combined effect of the active defects, as the meter consults it."""

    active: tuple[tuple[str, BaseModel], ...] = ()
    gain_regions: tuple[EnergyGainError, ...] = ()
    quadrant_map: dict[int, int] = field(default_factory=lambda: {1: 1, 2: 2, 3: 3, 4: 4})
    creep_fraction: float = 0.0
    starting_threshold_in: float | None = None
    pulse_factor: float = 1.0
    tariff_delay_s: float | None = None
    clock_seconds_per_day: float | None = None
    lose_energy_at_power_down: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.active)

    def params(self, name: str) -> BaseModel | None:
        for n, p in self.active:
            if n == name:
                return p
        return None

    def gain_percent(self, quantity: str, current: float, i_n: float) -> float:
        extra = 0.0
        for g in self.gain_regions:
            if quantity in g.quantities and g.i_min_in * i_n <= current < g.i_max_in * i_n:
                extra += g.percent
        return extra

    def to_obj(self) -> list[dict[str, Any]]:
        return [{"name": n, **p.model_dump(mode="json")} for n, p in self.active]


def build_defects(items: Iterable[Any]) -> Defects:
    """Validate defect entries (names and parameters) and combine their effects."""
    active: list[tuple[str, BaseModel]] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            name, raw = item, {}
        elif isinstance(item, dict) and "name" in item:
            name, raw = item["name"], {k: v for k, v in item.items() if k != "name"}
        else:
            raise DefectError(f"defect {i + 1}: expected a name or {{name: ..., params}}")
        spec = REGISTRY.get(name)
        if spec is None:
            raise DefectError(f"defect {i + 1}: unknown defect {name!r}; known: {sorted(REGISTRY)}")
        try:
            params = spec.params(**raw)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise DefectError(f"defect {i + 1} ({name}): {loc}: {first['msg']}") from None
        active.append((name, params))
    kw: dict[str, Any] = {"active": tuple(active)}
    gains = []
    qmap = {1: 1, 2: 2, 3: 3, 4: 4}
    for name, p in active:
        if isinstance(p, EnergyGainError):
            gains.append(p)
        elif isinstance(p, ReactiveQuadrantMixup):
            for a, b in p.swaps:
                qmap[a], qmap[b] = b, a
        elif isinstance(p, NoAntiCreep):
            kw["creep_fraction"] = p.creep_fraction
        elif isinstance(p, StartingThresholdHigh):
            kw["starting_threshold_in"] = p.threshold_in
        elif isinstance(p, WrongPulseConstant):
            kw["pulse_factor"] = p.factor
        elif isinstance(p, SlowTariffSwitch):
            kw["tariff_delay_s"] = p.delay_s
        elif isinstance(p, FastClock):
            kw["clock_seconds_per_day"] = p.seconds_per_day
        elif isinstance(p, EnergyLostAtPowerDown):
            kw["lose_energy_at_power_down"] = True
        elif REGISTRY[name].core:  # pragma: no cover - every core entry is handled above
            raise DefectError(f"defect {name!r} has no effect wired")
    return Defects(gain_regions=tuple(gains), quadrant_map=qmap, **kw)


def defect_table_markdown() -> str:
    """Markdown table of the defect registry (name, parameters, effect, caught by)."""
    lines = [
        "| Defect | Parameters (default) | Effect | Test that must catch it |",
        "|---|---|---|---|",
    ]
    for spec in REGISTRY.values():
        defaults = spec.params().model_dump(mode="json")
        params = ", ".join(f"`{k}`={v}" for k, v in defaults.items()) or "none"
        lines.append(f"| `{spec.name}` | {params} | {spec.effect} | {spec.caught_by} |")
    return "\n".join(lines)
