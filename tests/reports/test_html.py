"""The measurement tables' rows (reports.html.table_rows, escaped one call a row) are the
rows the template wrote when autoescape escaped each cell on its own."""

from __future__ import annotations

import re

import jinja2

from reports.analysis import Conformity, PositionSummary
from reports.html import TEMPLATE_GLOBALS, FamilyView, MeterView, table_rows
from reports.page import environment
from reports.records import DecisionRule, Repetitions, StoredMeasurement, Verdict

# The row of templates/meter.html as it was written before table_rows: one value per cell,
# each escaped by autoescape. The reference the fast rows are checked against.
CELL_AT_A_TIME = """{%- for m in rows -%}
{%- set t = row_texts(m) -%}
<tr class="measurement verdict-{{ m.verdict }}" id="m-{{ m.id }}" data-mid="{{ m.id }}" \
data-verdict="{{ m.verdict }}" data-test-id="{{ m.test_id }}">
{#- #}<td class="point">{{ m.point_text }}</td><td class="quantity">{{ m.quantity }}</td>
{#- #}<td class="value" data-value="{{ t.value_attr }}">{{ t.value }}</td>
{#- #}<td class="limit" data-low="{{ t.low_attr }}" data-high="{{ t.high_attr }}">\
{{ t.limits }}</td>
{#- #}<td class="uncertainty" data-u="{{ t.uncertainty_attr }}"\
{% if t.budget %} title="{{ t.budget }}"{% endif %}>{{ t.uncertainty }}</td>
{#- #}<td class="num reps">{{ t.repetitions }}</td><td class="verdict v-{{ m.verdict }}">\
{{ t.mark }}</td>
{#- #}<td class="rule">{{ m.decision_rule }}</td><td class="clause">{{ m.clause }}</td>\
<td class="message">{{ m.message }}</td></tr>
{%- endfor -%}"""

HOSTILE = '<script>alert("x&y\'s")</script>'


def _reference(rows: list[StoredMeasurement]) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals.update(TEMPLATE_GLOBALS)
    return env.from_string(CELL_AT_A_TIME).render(rows=rows)


def _package_rows(rows: list[StoredMeasurement]) -> str:
    """The table body of one family as the package's templates/meter.html writes it."""
    summary = PositionSummary(1, "S1", Verdict.PASS, {}, rows, [])
    meter = MeterView(summary, None, Conformity("CONFORMS", "pass", "text"),
                      [FamilyView("accuracy", "accuracy", rows, 0, [])])
    page = environment(None).get_template("meter.html").render(meter=meter, printing=False)
    return re.search(r"<tbody>(.*)</tbody>", page, re.S).group(1)


def _row(i: int, **fields) -> StoredMeasurement:
    base = dict(run_id="r", test_id=f"acc[{i}]", family="accuracy", position=1,
                quantity="active energy error", value=0.0123 * i, unit="%",
                verdict=Verdict.PASS, decision_rule=DecisionRule.GUARDED,
                clause="IEC 60687 Table 9", point={"load": 0.1 * i, "pf": "0.5L",
                                                   "direction": "import"},
                limit_low=-0.6, limit_high=0.6, expanded_uncertainty=0.021,
                uncertainty_budget={"components": [{"name": "reference",
                                                    "standard_uncertainty": 0.01}],
                                    "coverage_factor": 2},
                repetitions=Repetitions(n=3, mean=0.01, stdev=0.004), id=i)
    base.update(fields)
    return StoredMeasurement(**base)


def test_rows_are_the_cell_at_a_time_rows():
    rows = [
        _row(1),
        _row(2, verdict=Verdict.FAIL, message="1.2 % above the limit"),
        # Every text a run brings, hostile; the separator in a text; an unknown verdict and
        # rule as a damaged store gives them; no id, value, limits, U, budget or repetitions.
        _row(3, test_id=HOSTILE, quantity=HOSTILE, clause=HOSTILE, message=HOSTILE,
             point={"load": 1, "pf": "1", HOSTILE: HOSTILE}, unit="<%>"),
        _row(4, message="a\x1fb & c", quantity="q\x1f"),
        _row(5, verdict="broken<", decision_rule="odd'rule", id=None, value=None,
             limit_low=None, limit_high=None, expanded_uncertainty=None,
             uncertainty_budget=None, repetitions=None),
        _row(6, uncertainty_budget={"components": [{"name": HOSTILE,
                                                    "standard_uncertainty": 0.5}]}),
    ]
    expected = _reference(rows)
    assert _package_rows(rows) == expected
    assert "<script" not in expected and "&lt;script&gt;" in expected  # the reference escapes
    assert expected.count("<tr ") == len(rows)


def test_each_row_has_one_cell_per_value_escaped_once():
    row = _row(7, message=HOSTILE, quantity="a\x1fb")
    (cells,) = table_rows([row])
    assert len(cells) == 18
    assert cells[1] == "7" and cells[0] == "pass"
    assert cells[4] == "a\x1fb"  # the separator in a text: escaped cell by cell
    assert cells[-1] == "&lt;script&gt;alert(&#34;x&amp;y&#39;s&#34;)&lt;/script&gt;"


def test_a_budgets_tooltip_is_worked_out_once_and_only_for_that_budget(monkeypatch):
    """The page keeps the tooltips by budget object between tables (rows read from a store
    share the object of a budget text): the same object gives the same text without a second
    working out; another object, even one equal to it, is worked out again."""
    import reports.html

    shared = {"components": [{"name": "reference", "standard_uncertainty": 0.01}],
              "coverage_factor": 2}
    other = {"components": [{"name": "quantisation", "standard_uncertainty": 0.004}],
             "coverage_factor": 2}
    worked_out = []
    title = reports.html.budget_title

    def counted(r):
        worked_out.append(r.uncertainty_budget)
        return title(r)

    monkeypatch.setattr(reports.html, "budget_title", counted)
    first = [_row(i, uncertainty_budget=shared) for i in (1, 2)]
    second = [_row(3, uncertainty_budget=shared), _row(4, uncertainty_budget=other),
              _row(5, uncertainty_budget=dict(shared)), _row(6, uncertainty_budget=None)]
    memo: dict = {}
    cells = table_rows(first, memo) + table_rows(second, memo)
    assert [c[11] for c in cells] == [
        "reference: u = 0.010; RSS x k = 2", "reference: u = 0.010; RSS x k = 2",
        "reference: u = 0.010; RSS x k = 2", "quantisation: u = 0.0040; RSS x k = 2",
        "reference: u = 0.010; RSS x k = 2", ""]
    assert worked_out == [shared, other, shared, None]  # the copy is an object of its own
    assert worked_out[0] is shared and worked_out[2] is not shared
    assert cells == table_rows(first + second)  # as without the memo
