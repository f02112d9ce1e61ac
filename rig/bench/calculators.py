"""Which error calculator measures which position: the bench file's choice, checked against what
each instrument has.

A position names an instrument (`error_calculator: reference`, or a name under
`instruments.error_calculators`) and, optionally, an input of it (`pulse_input`). Every driver that
holds error calculators says what it has in `error_calculator_inputs`: one tuple of input names per
calculator (ZERA COM5003: EC01:0001 on SC1/HK1, EC01:0002 on Fin1..Fin4). A calculator measures
one position; a position without `pulse_input` gets the first free calculator's first input. More
positions than calculators, or a `pulse_wiring` input its calculator does not have, is refused
here, before any instrument is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rig.instruments.registry import driver_class

if TYPE_CHECKING:
    from rig.bench.config import BenchConfig


@dataclass(frozen=True)
class Assignment:
    """Position `position` is measured by calculator `unit` (1-based) of the instrument at
    `instrument` (its key under `instruments`), on input `pulse_input`."""

    position: int
    instrument: str
    unit: int
    pulse_input: str


class AssignmentError(ValueError):
    """Positions the bench's error calculators cannot serve; each line is `key: reason`."""


def assign(config: BenchConfig) -> list[Assignment]:
    """The calculator and input of every position, in position order; AssignmentError names the
    key of every position that cannot have one and why."""
    instruments = config.instruments.named()
    taken: dict[tuple[str, int], int] = {}  # (instrument key, unit) -> position id
    out: list[Assignment] = []
    problems: list[str] = []
    for n, pos in enumerate(config.positions):
        key = (
            "reference"
            if pos.error_calculator == "reference"
            else (f"error_calculators.{pos.error_calculator}")
        )
        where = f"positions.{n}"
        inst = instruments.get(key)
        if inst is None:
            names = ", ".join(["reference", *config.instruments.error_calculators])
            problems.append(
                f"{where}.error_calculator: no instrument {pos.error_calculator!r} "
                f"(error-calculator instruments: {names})"
            )
            continue
        units: tuple[tuple[str, ...], ...] = getattr(
            driver_class(inst.driver), "error_calculator_inputs", ()
        )
        if not units:
            problems.append(
                f"{where}.error_calculator: driver {inst.driver!r} ({key}) has no error "
                "calculators; name one under instruments.error_calculators"
            )
            continue
        inputs = "; ".join(f"calculator {k}: {', '.join(u)}" for k, u in enumerate(units, 1))
        if pos.pulse_input is not None and not any(pos.pulse_input in u for u in units):
            problems.append(
                f"{where}.pulse_input: {pos.pulse_input!r} is not an input of {inst.driver} "
                f"({key}; {inputs})"
            )
            continue
        # The inputs cabled (pulse_wiring) and the one counted belong to one calculator.
        cabled = set(pos.pulse_wiring) | ({pos.pulse_input} if pos.pulse_input else set())
        unknown = sorted(i for i in cabled if not any(i in u for u in units))
        if unknown or not any(cabled <= set(u) for u in units):
            problems.append(
                f"{where}.pulse_wiring: {', '.join(map(repr, unknown))} not an input of "
                f"{inst.driver} ({key}; {inputs})" if unknown else
                f"{where}.pulse_wiring: inputs {', '.join(sorted(cabled))} are not inputs of "
                f"one calculator of {inst.driver} ({key}; {inputs})"
            )
            continue
        free = [
            k
            for k, inputs in enumerate(units, 1)
            if (key, k) not in taken and cabled <= set(inputs)
        ]
        if not free:
            users = sorted(p for (k, _), p in taken.items() if k == key)
            problems.append(
                f"{where}.error_calculator: more positions than error calculators: "
                f"{inst.driver} ({key}) has {len(units)}"
                + (f" for input {pos.pulse_input!r}" if pos.pulse_input else "")
                + f", taken by position(s) {users}; give position {pos.id} a separate "
                "error-calculator instrument (instruments.error_calculators)"
            )
            continue
        unit = free[0]
        taken[(key, unit)] = pos.id
        out.append(Assignment(pos.id, key, unit, pos.pulse_input or units[unit - 1][0]))
    if problems:
        raise AssignmentError("\n".join(problems))
    return out


def chains_repetitions(config: BenchConfig) -> bool:
    """Whether every position's calculator chains repetitions on the closing edge (rig.measure):
    its driver says so for the input it counts (`chains_repetitions_on`); a driver that does
    not say restarts each gate."""
    instruments = config.instruments.named()
    for a in assign(config):
        on = getattr(driver_class(instruments[a.instrument].driver), "chains_repetitions_on", None)
        if on is None or not on(a.pulse_input):
            return False
    return True
