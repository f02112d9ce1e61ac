"""The report metadata file: who the report is for, what was tested, who authorises it.

A small YAML file, one per job (the customer and the items change; the bench does not):

    report_number: "ML-{year}-{seq:04d}"   # scheme; fields {run_id} {year} {date} {plan} {seq}
    sequence: 17                           # {seq}: the lab's running number for this report
    issue_date: 2026-12-05                 # optional: the day the report is built
    customer: {name: ..., address: ..., contact: ...}
    item: {description: ..., received: 2026-11-30, condition: ..., identification: ...}
    authoriser: {name: ..., function: ...}
    laboratory: {name: ..., address: ..., accreditation: ...}   # optional: the bench's lab
    location: ...                          # optional: where the tests were done
    method: ...                            # optional: the plan's title and standards
    deviations: [...]                      # additions, deviations, exclusions (7.8.2.1 o)

Each field answers an item of ISO/IEC 17025:2017 7.8.2.1 (see reports/iso17025.py). Errors
name the file and the key: "report.yaml: customer.name: Field required".
"""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# The fields a report number scheme may use (str.format names).
SCHEME_FIELDS = ("run_id", "year", "date", "plan", "seq")


class ReportMetaError(ValueError):
    """The metadata file cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Named(_Strict):
    name: str = Field(min_length=1)
    address: str = ""


class Party(_Named):
    contact: str = ""


class Item(_Strict):
    description: str = Field(min_length=1)
    received: dt.date
    condition: str = ""
    identification: str = ""  # the customer's or the lab's identification of the items


class Authoriser(_Strict):
    name: str = Field(min_length=1)
    function: str = Field(min_length=1)


class Laboratory(_Named):
    accreditation: str = ""


class ReportMeta(_Strict):
    report_number: str = Field(min_length=1)
    sequence: int | None = Field(None, ge=0)
    issue_date: dt.date | None = None
    customer: Party
    item: Item
    authoriser: Authoriser
    laboratory: Laboratory | None = None
    location: str = ""
    method: str = ""
    deviations: list[str] = Field(default_factory=list)

    @field_validator("report_number")
    @classmethod
    def _known_fields(cls, scheme: str) -> str:
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(scheme) if name]
        except ValueError as exc:
            raise ValueError(f"not a valid scheme ({exc})") from None
        unknown = [n for n in names if n not in SCHEME_FIELDS]
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join('{' + n + '}' for n in unknown)}; "
                             f"a scheme may use {', '.join('{' + n + '}' for n in SCHEME_FIELDS)}")
        return scheme

    def number(self, run_id: str, plan: str, issued: dt.date) -> str:
        """The report number the scheme gives for a run issued on `issued`."""
        return self.report_number.format(run_id=run_id, year=issued.year, date=issued.isoformat(),
                                         plan=plan, seq=self.sequence)


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{path}: {key}: {err['msg']}")
    return "\n".join(lines)


def parse_meta(text: str, path: Path) -> ReportMeta:
    """The metadata of `text` (read from `path`, named in errors)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReportMetaError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ReportMetaError(f"{path}: (top level): expected a mapping of keys, got "
                              f"{type(doc).__name__}")
    try:
        meta = ReportMeta.model_validate(doc)
    except ValidationError as exc:
        raise ReportMetaError(_describe(path, exc)) from None
    if "{seq" in meta.report_number and meta.sequence is None:
        raise ReportMetaError(f"{path}: sequence: required by the report_number scheme {{seq}}")
    return meta


def load_meta(path: str | Path) -> ReportMeta:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportMetaError(f"{path}: cannot read the report metadata file: "
                              f"{exc.strerror or exc}") from None
    return parse_meta(text, path)
