"""Cut-down plan files for tests that run a few items of the default plan in a subprocess."""

from __future__ import annotations

from pathlib import Path

import yaml

from rig.plan import PLANS_DIR

DEFAULT_PLAN = PLANS_DIR / "iec60687-class0.5S.yaml"


def default_items(*ids: str) -> list[dict]:
    """The default class 0.5S plan's items `ids`, in the plan's order, as the YAML gives them."""
    raw = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    return [i for i in raw["items"] if i["id"] in ids]


def plan_with(path: Path, items: list[dict]) -> Path:
    """The default plan's header with only `items` and no coverage claim (a plan of a few
    items cannot fill the class 0.5S matrix), written to `path`."""
    raw = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    raw["items"] = items
    raw["coverage"] = []
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path
