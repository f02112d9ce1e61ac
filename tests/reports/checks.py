"""Checks shared by the report tests: the HTML page against the store it was built from."""

from __future__ import annotations

import re
from collections.abc import Mapping

from reports.records import Measurement, Verdict
from tests.reports.htmlscan import ReportScan

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def decimals(text: str) -> int:
    m = re.search(r"[-+]?\d+(?:\.(\d+))?", text)
    assert m, text
    return len(m.group(1) or "")


def assert_each_measurement_once(scan: ReportScan, stored: Mapping[int, Measurement]) -> None:
    mids = [int(r.attrs["data-mid"]) for r in scan.rows]
    assert len(mids) == len(set(mids)), "a measurement appears twice in the page"
    assert set(mids) == set(stored), (f"missing from the page: {set(stored) - set(mids)}; "
                                      f"not in the store: {set(mids) - set(stored)}")


def assert_rows_match_store(scan: ReportScan, stored: Mapping[int, Measurement]) -> None:
    """Each row's verdict, value (exact in data-*, rounded in the text), limits, U and
    clause are the stored ones."""
    for row in scan.rows:
        m = stored[int(row.attrs["data-mid"])]
        assert row.attrs["data-verdict"] == m.verdict.value
        cells = row.cells
        verdict_text = cells["verdict"]["text"]
        if m.verdict is Verdict.FAIL:
            assert "FAIL" in verdict_text and "verdict-fail" in row.attrs["class"]
        elif m.verdict is Verdict.PASS:
            assert "pass" in verdict_text and "FAIL" not in verdict_text
        else:
            assert m.verdict.value.upper() in verdict_text
        if m.value is None:
            assert cells["value"]["data-value"] == "" and cells["value"]["text"] == ""
        else:
            assert float(cells["value"]["data-value"]) == m.value
            shown = cells["value"]["text"]
            number = float(_NUMBER.search(shown).group())
            assert abs(number - m.value) <= 0.5 * 10 ** -decimals(shown) + 1e-12, shown
            if m.unit:
                assert shown.endswith(m.unit)
        for attr, expected in (("data-low", m.limit_low), ("data-high", m.limit_high)):
            got = cells["limit"][attr]
            assert (got == "") if expected is None else float(got) == expected
        if m.expanded_uncertainty is not None:
            assert float(cells["uncertainty"]["data-u"]) == m.expanded_uncertainty
            u_text = cells["uncertainty"]["text"]
            # two significant digits for U, and the value rounded to the same place
            assert len(re.sub(r"^0\.0*", "", u_text.split()[0]).replace(".", "")) <= 2
            if m.value is not None:
                assert decimals(cells["value"]["text"]) == decimals(u_text)
        assert cells["clause"]["text"] == m.clause
