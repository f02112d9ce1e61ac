"""The meter's own percentage error (what a healthy A1000 registers versus the true energy).

Per measuring element and per quantity (active, reactive, apparent), the registered power is
``true * (1 + e/100)`` with

    e = offset
        + low_current * Ik / (Ik + I)            (Ik = 0.05 In: the rise towards 0.01 In)
        + high_current * (I / Imax)^2            (self-heating towards Imax)
        + power_factor * (1 - |f|)               (f = cos phi for active, sin phi for reactive)
        + voltage * (U/Un - 1) + frequency * (f/fn - 1) + harmonics * THD_I

All coefficients are in percent. The defaults give a smooth curve of a few hundredths of a
percent, well inside the class 0.5S limits (standards.md 1.2: +-0.5 % at 0.05..Imax PF 1,
+-1.0 % at 0.01 In) and the influence limits of standards.md 1.6. The pulses and the
registers both follow this registered (erroneous) energy.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorCurve(BaseModel):
    """Coefficients of one quantity's error curve, percent (see module docstring)."""

    model_config = ConfigDict(extra="forbid")

    offset: float = Field(0.02, ge=-10, le=10)
    low_current: float = Field(0.04, ge=-10, le=10)
    high_current: float = Field(-0.02, ge=-10, le=10)
    power_factor: float = Field(0.03, ge=-10, le=10)
    voltage: float = Field(0.1, ge=-100, le=100)
    frequency: float = Field(0.5, ge=-100, le=100)
    harmonics: float = Field(0.05, ge=-100, le=100)

    def percent(
        self,
        current: float,
        factor: float,
        voltage: float,
        frequency: float,
        thd_i: float,
        *,
        i_n: float,
        i_max: float,
        u_n: float,
        f_n: float,
    ) -> float:
        ik = 0.05 * i_n
        return (
            self.offset
            + self.low_current * ik / (ik + current)
            + self.high_current * (current / i_max) ** 2
            + self.power_factor * (1.0 - min(1.0, abs(factor)))
            + self.voltage * (voltage / u_n - 1.0)
            + self.frequency * (frequency / f_n - 1.0)
            + self.harmonics * thd_i
        )


class ErrorModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: ErrorCurve = ErrorCurve()
    reactive: ErrorCurve = ErrorCurve(offset=0.03, low_current=0.05)
    apparent: ErrorCurve = ErrorCurve(offset=0.03)
