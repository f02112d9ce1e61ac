"""An energy register read at the instant its last digit steps: the edge method of register
doses (issue 14 item 3).

Read with the current off, a register is known to one digit (the A1000 shows 99999.99 kWh,
manual 1.1 item 5 / 2.1.2): its energy lies in [R, R + digit). Two such readings bound an
advance to one digit, so a dose must be digit / (resolution x limit) to resolve the register to
`resolution` of the limit (rig.plan.register_dose; standards.md 1.4: the meter constant within
1/10 of the MPE, "measured at one current for long enough to resolve the register").

With the load on, the register steps from R to R + digit at the instant the meter's energy is
exactly R + digit. Polling it over the meter line (one R1 an exchange apart at real line timing,
rig.linetime.EXCHANGE_S) and reading the reference standard's running energy register before
each poll brackets that instant between two polls: the meter's energy R + digit is matched by a
reference energy within the energy of one poll interval, P x dt, not a whole digit. Two such
edges bound the advance to P x dt (+-P x dt / 2 each, rectangular): at Imax on the simulated
bench (3 x 220 V x 10 A = 6.6 kW) 6.6 kW x 0.43 s = 0.79 Wh against a 10 Wh digit, so the dose
for the same resolution is 12.7 times shorter. The meter latches its register at a fixed point
of its answer, the same for every R1 of the register: that instant cancels in the difference of
two edges, as in the clock's roll-over catch (rig.meterlink.clock_offsets).

A meter whose register does not step within a few digit periods (a dead or far too slow
register) is read as it stands at its last poll: known to one digit there, as the whole-digit
method would read it; its error then carries that digit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rig.linetime import EXCHANGE_S, SIGN_ON_S
from rig.meterlink import MeterLink, MeterReadError, MeterSessions, Probe
from rig.metrology import UncertaintyComponent, rectangular
from rig.plan import RegisterMethod, register_dose
from rig.timebase import Timebase

#: Polls wait this many digit periods (at the nominal power) for a step before reading the
#: register as it stands: a meter 60 % slow still steps within them.
PATIENCE_PERIODS = 2.5


def poll_kwh(power_w: float, poll_s: float = EXCHANGE_S) -> float:
    """The energy that passes in one poll interval at `power_w`: one edge's bracket, kWh (or
    kvarh for a reactive power in var)."""
    return abs(power_w) * poll_s / 3.6e6


def reading_kwh(method: RegisterMethod, digit: float, power_w: float) -> float:
    """What two readings' difference is known to: one digit (whole-digit), or one poll
    interval's energy at the dose's power (edge). The edge method needs a digit longer than a
    poll: else it resolves no better than the digit."""
    if method == "whole-digit":
        return digit
    edge = poll_kwh(power_w)
    if not edge < digit:
        raise ValueError(
            f"edge method: one poll ({EXCHANGE_S} s) at {abs(power_w):.0f} W passes "
            f"{edge:.4g} kWh, not less than the {digit} kWh digit: use method whole-digit")
    return edge


def dose_kwh(method: RegisterMethod, digit: float, power_w: float, limit_pct: float,
             resolution: float) -> float:
    """The dose a register test needs by its method: what two readings' difference is known
    to (`reading_kwh`) at `resolution` of the limit (rig.plan.register_dose)."""
    return register_dose(reading_kwh(method, digit, power_w), limit_pct, resolution)


def passing_s(energy_kwh: float, power_w: float) -> float:
    """How long `energy_kwh` (kWh, or kvarh at a reactive power in var) takes to pass at
    `power_w`: a dose's duration, or one digit's period."""
    return energy_kwh * 3.6e6 / abs(power_w)


def digit_period_s(digit: float, power_w: float) -> float:
    """How long one register digit takes to pass at `power_w`."""
    return passing_s(digit, power_w)


def edge_s(digit: float, power_w: float) -> float:
    """Planned bench time of one `catch_edges`: the sign-on, the first poll, the wait for the
    step (half a digit period on average), the poll that sees it."""
    return SIGN_ON_S + 2 * EXCHANGE_S + digit_period_s(digit, power_w) / 2


@dataclass(frozen=True)
class Edge:
    """One meter's register at one edge: its energy `meter` (register units) matched by the
    reference energy `reference` (since the reference register started), each within its
    half-width (one of them is zero)."""

    meter: float
    meter_half: float
    reference: float
    reference_half: float
    polls: int
    stepped: bool
    at: float  # true time of the poll that saw the step (or the last poll)

    @property
    def half(self) -> float:
        """The edge's half-width in energy: what the advance between two edges carries."""
        return self.meter_half + self.reference_half

    def as_dict(self) -> dict[str, Any]:
        return {"meter": self.meter, "meter_half": self.meter_half,
                "reference": self.reference, "reference_half": self.reference_half,
                "polls": self.polls, "stepped": self.stepped, "at": self.at}


def catch_edges(links: Mapping[int, MeterLink], timebase: Timebase, energy: Any, address: str,
                digit: float, power_w: float) -> dict[int, Edge]:
    """Poll `address` on every meter (each in its own session, all at the same instants, one
    exchange apart) until its last digit steps, the reference energy register `energy`
    (running) read before each poll; each meter's edge (module doc)."""
    patience = PATIENCE_PERIODS * digit_period_s(digit, power_w) + 2 * EXCHANGE_S
    found: dict[int, Edge] = {}
    with MeterSessions(links) as sessions:
        last_reference, last = _poll(sessions, timebase, energy, address)
        polls = 1
        # The polls' own answer times stand for the time now: on a simulated bench each
        # reading of the time is a request to it.
        start = now = _answered(last)
        while len(found) < len(links) and now - start <= patience:
            reference, probes = _poll(sessions, timebase, energy, address)
            now = _answered(probes)
            polls += 1
            stepped = [n for n, probe in probes.items()
                       if probe.reading.value != last[n].reading.value]
            for n in stepped:
                found[n] = Edge(meter=float(probes[n].reading.value), meter_half=0.0,
                                reference=(last_reference + reference) / 2,
                                reference_half=(reference - last_reference) / 2,
                                polls=polls, stepped=True, at=probes[n].sent)
            sessions.end(stepped)
            last.update(probes)
            last_reference = reference
    for n in links:
        if n not in found:
            probe = last[n]
            found[n] = Edge(meter=float(probe.reading.value) + digit / 2, meter_half=digit / 2,
                            reference=last_reference, reference_half=0.0, polls=polls,
                            stepped=False, at=probe.sent)
    return found


def _answered(probes: Mapping[int, Probe]) -> float:
    """When the last answer of a poll was taken (true time)."""
    return max(probe.taken for probe in probes.values())


def _poll(sessions: MeterSessions, timebase: Timebase, energy: Any,
          address: str) -> tuple[float, dict[int, Probe]]:
    """The reference's running energy, then one timed R1 of `address` on every meter still
    polled."""
    reference = abs(energy.energy())
    probes = sessions.read_timed(timebase, address)
    for n, probe in probes.items():
        if probe.reading.value is None:
            raise MeterReadError(f"position {n}: R1 {address}: the answer has no value")
    return reference, probes


def edge_budget(start: Edge, end: Edge, reference: float, unit: str) -> list[UncertaintyComponent]:
    """The two edges' brackets in % of the reference energy between them (rectangular)."""
    return [rectangular(f"register {name} edge", 100.0 * edge.half / reference,
                        note=("step bracketed between two polls, " if edge.stepped else
                              "no step within the polls, one digit, ")
                        + f"+-{edge.half:.5f} {unit} in {reference:.4f} {unit}")
            for name, edge in (("start", start), ("end", end))]
