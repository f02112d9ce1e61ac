import math

import pytest

from reports.records import DecisionRule, Verdict
from rig.metrology import (
    combine,
    decide,
    error_budget,
    normal,
    quantisation,
    rectangular,
    reference_standard,
    repeatability,
    source_stability,
    symmetric,
)

G = DecisionRule.GUARDED


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.0, "pass"), (0.5, "pass"), (-0.5, "pass"), (0.5001, "fail"), (-0.51, "fail")],
)
def test_simple_acceptance_is_inclusive_at_the_limit(value, verdict):
    assert decide(value, -0.5, 0.5) == Verdict(verdict)


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (0.40, "pass"),          # |v| + U = 0.48 <= 0.5
        (0.42, "pass"),          # exactly on the guard band edge
        (-0.42, "pass"),
        (0.43, "inconclusive"),  # inside the limit, within U of it
        (0.55, "inconclusive"),  # outside the limit, within U of it
        (-0.58, "inconclusive"),
        (0.59, "fail"),          # |v| - U = 0.51 > 0.5
        (-0.6, "fail"),
    ],
)
def test_guarded_acceptance(value, verdict):
    assert decide(value, -0.5, 0.5, rule=G, expanded_uncertainty=0.08) == Verdict(verdict)


def test_guarded_with_zero_uncertainty_equals_simple():
    for v in (-0.6, -0.5, 0.0, 0.49, 0.5, 0.51):
        assert decide(v, -0.5, 0.5, rule=G, expanded_uncertainty=0.0) == decide(v, -0.5, 0.5)


def test_one_sided_limits():
    # no-load: at most one pulse (standards.md 1.4)
    assert decide(1, None, 1) is Verdict.PASS
    assert decide(2, None, 1) is Verdict.FAIL
    # starting: at least one pulse
    assert decide(0, 1, None) is Verdict.FAIL
    assert decide(0.95, 1, None, rule=G, expanded_uncertainty=0.1) is Verdict.INCONCLUSIVE


def test_missing_value_is_error_and_bad_arguments_raise():
    assert decide(None, -0.5, 0.5) is Verdict.ERROR
    assert decide(math.nan, -0.5, 0.5) is Verdict.ERROR
    with pytest.raises(ValueError, match="guarded rule needs"):
        decide(0.1, -0.5, 0.5, rule=G)
    with pytest.raises(ValueError, match="at least one"):
        decide(0.1, None, None)
    with pytest.raises(ValueError, match="above limit_high"):
        decide(0.1, 0.5, -0.5)
    with pytest.raises(ValueError):
        decide(0.1, -0.5, 0.5, rule="strict")
    assert symmetric(0.6) == (-0.6, 0.6)


def test_components_divide_as_stated():
    assert reference_standard(0.04).standard_uncertainty == pytest.approx(0.02)
    assert normal("x", 0.3, k=3).standard_uncertainty == pytest.approx(0.1)
    assert rectangular("x", math.sqrt(3)).standard_uncertainty == pytest.approx(1.0)
    # +-1 count in 1e5 counts = +-0.001 % bounds (instruments.md 3)
    assert quantisation(100_000).stated == pytest.approx(0.001)
    assert quantisation(100_000).standard_uncertainty == pytest.approx(0.001 / math.sqrt(3))
    assert repeatability(0.02, 4).standard_uncertainty == pytest.approx(0.01)
    assert source_stability(0.01).distribution == "rectangular"
    with pytest.raises(ValueError):
        repeatability(0.02, 1)
    with pytest.raises(ValueError):
        quantisation(0)
    with pytest.raises(ValueError):
        rectangular("x", -1)


def test_combine_is_rss_times_k():
    b = combine([normal("a", 0.06), normal("b", 0.08)])  # u = 0.03, 0.04
    assert b.combined_standard == pytest.approx(0.05)
    assert b.expanded == pytest.approx(0.10)
    j = b.to_json()
    assert j["coverage_factor"] == 2.0 and j["expanded"] == pytest.approx(0.1)
    assert [c["name"] for c in j["components"]] == ["a", "b"]
    with pytest.raises(ValueError):
        combine([])


def test_error_budget_is_of_lab_size():
    # A good bench reaches the order of the NMi figure (0.08 % at PF 1, k = 2; standards.md 1.8)
    b = error_budget(reference_expanded=0.05, reference_counts=1e5, readings_stdev=0.02,
                     readings_n=3, source_half_width=0.02)
    assert [c.name for c in b.components] == [
        "reference standard", "quantisation", "repeatability", "source stability"]
    expected_u = math.sqrt(0.025**2 + (0.001 / math.sqrt(3))**2 + (0.02 / math.sqrt(3))**2
                           + (0.02 / math.sqrt(3))**2)
    assert b.combined_standard == pytest.approx(expected_u)
    assert 0.05 < b.expanded < 0.08
