"""Metrology: acceptance (decision) rules and measurement-uncertainty budgets.

Pure functions the procedures and plans use. This module imports nothing else from rig/ and
from reports/ only the stored record's enums (reports.records, a leaf module), so the report
side may import it too without a cycle: it sits below both.

Decision rules (the rule is stored with every verdict, DESIGN.md key decision 7):

- simple acceptance: pass when the measured value lies within the limits, fail otherwise;
  the uncertainty is reported but not used ("shared risk").
- guarded acceptance: the acceptance zone is the tolerance shrunk by the expanded
  uncertainty U on each side. Pass when low + U <= value <= high - U; fail when the value
  lies more than U outside a limit (value < low - U or value > high + U); otherwise
  inconclusive. For a symmetric limit L this is |v| + U <= L pass, |v| - U > L fail.

Uncertainty: components are combined by root-sum-square of standard uncertainties and
expanded with coverage factor k = 2 (about 95 %), the convention of type-test reports
(standards.md 1.8: NMi quotes U = 0.08 % at PF 1 and 0.13 % at PF 0.5 L / 0.8 C, k = 2).
The components of an error-calculator measurement follow instruments.md section 3: the
reference standard's stated uncertainty, quantisation of +-1 reference count, repeatability
of repeated readings, and the stability of the source during the gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reports.records import DecisionRule, Verdict

DEFAULT_COVERAGE_FACTOR = 2.0


def decide(
    value: float | None,
    limit_low: float | None,
    limit_high: float | None,
    *,
    rule: DecisionRule | str = DecisionRule.SIMPLE,
    expanded_uncertainty: float | None = None,
) -> Verdict:
    """The verdict for `value` against [limit_low, limit_high] under `rule`.

    Either limit may be None (one-sided requirement, e.g. "at most one pulse"). A value of
    None (nothing could be measured) gives Verdict.ERROR.
    """
    rule = DecisionRule(rule)
    if limit_low is None and limit_high is None:
        raise ValueError("decide: at least one of limit_low, limit_high is needed")
    if limit_low is not None and limit_high is not None and limit_low > limit_high:
        raise ValueError(f"decide: limit_low {limit_low} is above limit_high {limit_high}")
    if value is None or not math.isfinite(value):
        return Verdict.ERROR
    if rule is DecisionRule.SIMPLE:
        inside = ((limit_low is None or value >= limit_low)
                  and (limit_high is None or value <= limit_high))
        return Verdict.PASS if inside else Verdict.FAIL
    if expanded_uncertainty is None:
        raise ValueError("decide: the guarded rule needs the expanded uncertainty")
    u = expanded_uncertainty
    if u < 0 or not math.isfinite(u):
        raise ValueError(f"decide: expanded uncertainty must be finite and >= 0, got {u}")
    if (limit_low is not None and value < limit_low - u) or (
        limit_high is not None and value > limit_high + u
    ):
        return Verdict.FAIL
    if (limit_low is None or value >= limit_low + u) and (
        limit_high is None or value <= limit_high - u
    ):
        return Verdict.PASS
    return Verdict.INCONCLUSIVE


def symmetric(limit: float) -> tuple[float, float]:
    """(-limit, +limit) for a +-limit requirement such as +-0.5 %."""
    if limit < 0:
        raise ValueError(f"symmetric limit must be >= 0, got {limit}")
    return -limit, limit


@dataclass(frozen=True)
class UncertaintyComponent:
    """One line of a budget; all values are in the unit of the measurand (e.g. %)."""

    name: str
    standard_uncertainty: float
    distribution: str  # 'normal' or 'rectangular'
    # What the source states: an expanded uncertainty, a half-width or a standard deviation.
    stated: float
    divisor: float
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "standard_uncertainty": self.standard_uncertainty,
            "distribution": self.distribution,
            "stated": self.stated,
            "divisor": self.divisor,
            "note": self.note,
        }


def _component(name: str, stated: float, divisor: float, distribution: str,
               note: str) -> UncertaintyComponent:
    if not math.isfinite(stated) or stated < 0:
        raise ValueError(f"uncertainty component {name!r}: value must be finite and >= 0, "
                         f"got {stated}")
    return UncertaintyComponent(name, stated / divisor, distribution, stated, divisor, note)


def normal(name: str, expanded: float, k: float = DEFAULT_COVERAGE_FACTOR,
           note: str = "") -> UncertaintyComponent:
    """A component stated as an expanded uncertainty with coverage factor k."""
    if k <= 0:
        raise ValueError(f"uncertainty component {name!r}: coverage factor must be > 0")
    return _component(name, expanded, k, "normal", note or f"stated U, k = {k:g}")


def rectangular(name: str, half_width: float, note: str = "") -> UncertaintyComponent:
    """A component known only by bounds +-a: u = a / sqrt(3)."""
    return _component(name, half_width, math.sqrt(3.0), "rectangular",
                      note or "bounds +-a, u = a/sqrt(3)")


def reference_standard(expanded: float, k: float = DEFAULT_COVERAGE_FACTOR) -> UncertaintyComponent:
    """The reference standard's stated (calibration certificate) uncertainty, in %."""
    return normal("reference standard", expanded, k,
                  note=f"calibration certificate, U at k = {k:g}")


def quantisation(reference_counts: int | float) -> UncertaintyComponent:
    """+-1 reference count in a gate of `reference_counts` counts, in %.

    The gate opens and closes on meter pulse edges, so only the reference count is
    quantised (instruments.md 3: resolution about 100 / N_ref %).
    """
    if reference_counts <= 0:
        raise ValueError(f"quantisation: reference count must be > 0, got {reference_counts}")
    return rectangular("quantisation", 100.0 / reference_counts,
                       note=f"+-1 count in {reference_counts:g} reference counts")


def repeatability(stdev: float, n: int) -> UncertaintyComponent:
    """Type A: experimental standard deviation of n readings; the result is their mean,
    so u = s / sqrt(n)."""
    if n < 2:
        raise ValueError(f"repeatability needs n >= 2 readings, got {n}")
    return _component("repeatability", stdev, math.sqrt(n), "normal",
                      f"s = {stdev:.3g} over n = {n}, u = s/sqrt(n)")


def source_stability(half_width: float) -> UncertaintyComponent:
    """Drift of the source during the gate, known by bounds +-a (in %)."""
    return rectangular("source stability", half_width, note="bounds +-a, u = a/sqrt(3)")


@dataclass(frozen=True)
class UncertaintyBudget:
    components: tuple[UncertaintyComponent, ...]
    combined_standard: float
    coverage_factor: float

    @property
    def expanded(self) -> float:
        return self.coverage_factor * self.combined_standard

    def to_json(self) -> dict[str, Any]:
        """The form stored in Measurement.uncertainty_budget and shown in reports."""
        return {
            "components": [c.to_json() for c in self.components],
            "combined_standard": self.combined_standard,
            "coverage_factor": self.coverage_factor,
            "expanded": self.expanded,
        }


def combine(components: Iterable[UncertaintyComponent],
            k: float = DEFAULT_COVERAGE_FACTOR) -> UncertaintyBudget:
    """Root-sum-square of the standard uncertainties (uncorrelated inputs, sensitivity 1),
    expanded with coverage factor k."""
    comps: Sequence[UncertaintyComponent] = tuple(components)
    if not comps:
        raise ValueError("combine: an uncertainty budget needs at least one component")
    if k <= 0:
        raise ValueError(f"combine: coverage factor must be > 0, got {k}")
    uc = math.sqrt(sum(c.standard_uncertainty ** 2 for c in comps))
    return UncertaintyBudget(tuple(comps), uc, k)


def error_budget(
    *,
    reference_expanded: float,
    reference_counts: int | float | None = None,
    readings_stdev: float | None = None,
    readings_n: int = 1,
    source_half_width: float | None = None,
    reference_k: float = DEFAULT_COVERAGE_FACTOR,
    k: float = DEFAULT_COVERAGE_FACTOR,
) -> UncertaintyBudget:
    """The usual budget of a percentage-error point taken with an error calculator."""
    comps = [reference_standard(reference_expanded, reference_k)]
    if reference_counts is not None:
        comps.append(quantisation(reference_counts))
    if readings_stdev is not None and readings_n >= 2:
        comps.append(repeatability(readings_stdev, readings_n))
    if source_half_width is not None:
        comps.append(source_stability(source_half_width))
    return combine(comps, k)
