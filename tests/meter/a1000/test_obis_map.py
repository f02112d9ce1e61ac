"""The OBIS map: one table, Appendix A codes exactly, markdown rendering, lookups."""

from __future__ import annotations

import re

from meter.a1000.config import default_config
from meter.a1000.meter import A1000
from meter.a1000.obis_doc import markdown_table, obis_table_markdown
from meter.a1000.obis_map import build_map, core_rows

APPENDIX_A_ENERGY = [f"1-1:{c}.8.{e}" for c in (1, 2, 5, 6, 7, 8) for e in range(5)]


def test_core_rows_hold_appendix_a_energy_codes_exactly() -> None:
    addresses = [r.address for r in core_rows()]
    assert len(addresses) == len(set(addresses))
    for a in APPENDIX_A_ENERGY:
        assert a in addresses, a


def test_every_row_is_documented_and_has_a_source() -> None:
    for r in core_rows():
        assert r.description and r.source, r.address
        assert r.readable or r.writable


def test_markdown_table_lists_every_row() -> None:
    m = A1000(default_config(), start_time=0.0)
    omap = build_map(m)
    table = markdown_table(omap)
    shown = [line.split("`")[1] for line in table.splitlines()[2:]]
    # Every address appears, history runs (X*101..*116) as one range.
    bases = {r.address.partition("*")[0] for r in omap}
    assert {s.partition("*")[0] for s in shown} == bases
    assert "1-1:1.8.0*101..*116" in shown and "1-1:1.8.0" in shown
    plain = [r.address for r in omap if "*" not in r.address]
    assert [s for s in shown if "*" not in s] == plain
    assert re.search(r"\| `1-1:1\.8\.0` \| Total active energy import", table)
    assert obis_table_markdown().count("\n") == table.count("\n")


def test_find_resolves_reduced_forms() -> None:
    m = A1000(default_config(), start_time=0.0)
    omap = build_map(m)
    assert omap.find("1.8.0").address == "1-1:1.8.0"
    assert omap.find("1-1:1.8.0").address == "1-1:1.8.0"
    assert omap.find("96.1.0").address == "C.1.0"
    assert omap.find("97.97.2").address == "F.F.2"
    assert omap.find("nonsense") is None


def _appendix_a() -> list[str]:
    """Every code of the A1000 manual Appendix A, as written there."""
    codes = [f"1-1:{c}.8.{e}" for c in (1, 2, 5, 6, 7, 8) for e in range(5)]
    codes += [f"1-1:{c}.8.{e}*101" for c in (1, 2, 5, 6, 7, 8) for e in range(5)]
    codes += [f"1-1:{c}.{d}.{e}" for c in (1, 2) for d in (2, 4, 6) for e in range(5)]
    return codes


def test_default_readout_covers_appendix_a_with_the_plugged_in_components() -> None:
    m = A1000(default_config(), start_time=0.0)
    bank = m.register_bank()
    in_readout = [r.address for r in bank.map if r.readout]
    missing = [a for a in _appendix_a() if a not in in_readout]
    assert not missing, f"Appendix A codes not in the readout: {missing}"
