"""The report metadata file: its format and the errors that name file and key."""

from __future__ import annotations

import datetime as dt

import pytest

from reports.reportmeta import ReportMetaError, load_meta, parse_meta

GOOD = {
    "report_number": "L-{year}-{seq:03d}/{plan}", "sequence": 5,
    "customer": {"name": "Grid Co"},
    "item": {"description": "3 meters", "received": "2026-11-30"},
    "authoriser": {"name": "A. Signer", "function": "Head of lab"},
}


def _yaml(doc) -> str:
    import yaml

    return yaml.safe_dump(doc)


def test_a_good_file_gives_the_report_number_of_its_scheme(tmp_path):
    meta = parse_meta(_yaml(GOOD), tmp_path / "m.yaml")
    assert meta.item.received == dt.date(2026, 11, 30)
    # {seq:03d} of 5 is 005; {year} of the issue date
    assert meta.number("RUN1", "iec", dt.date(2027, 1, 2)) == "L-2027-005/iec"


@pytest.mark.parametrize(("change", "message"), [
    ({"customer": {}}, "customer.name: Field required"),
    ({"item": {"description": "x", "received": "last week"}}, "item.received: Input should be"),
    ({"authoriser": {"name": "A"}}, "authoriser.function: Field required"),
    ({"report_number": "R-{month}"}, "report_number: Value error, unknown field(s) {month}"),
    ({"report_number": "R-{seq"}, "report_number: Value error, not a valid scheme"),
    ({"sequence": None}, "sequence: required by the report_number scheme {seq}"),
    ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
])
def test_errors_name_the_file_and_the_key(tmp_path, change, message):
    path = tmp_path / "report.yaml"
    path.write_text(_yaml({**GOOD, **change}), encoding="utf-8")
    with pytest.raises(ReportMetaError) as err:
        load_meta(path)
    assert f"{path}: {message}" in str(err.value)


def test_not_a_mapping_or_not_there(tmp_path):
    with pytest.raises(ReportMetaError, match=r"m.yaml: \(top level\): expected a mapping"):
        parse_meta("- a\n- b\n", tmp_path / "m.yaml")
    with pytest.raises(ReportMetaError, match="cannot read the report metadata file"):
        load_meta(tmp_path / "absent.yaml")
