"""Non-volatile state: power-down, process kill (object discarded), damaged files, ERR 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meter.a1000.meter import A1000, ERR2_EEPROM
from meter.a1000.store import CURRENT, PREVIOUS, StateStore
from meter.electrical import ElectricalInputs
from tests.meter.a1000.helpers import T0, ideal_config

U, I_A = 57.7, 0.5
KW = 3 * U * I_A / 1000
LOAD = ElectricalInputs.balanced(U, I_A, 0)


def _run(state: Path, seconds: float, step: float = 7.0, **cfg: object) -> A1000:
    m = A1000(ideal_config(**cfg), start_time=T0, state_dir=state)
    m.set_inputs(T0, LOAD)
    t = T0
    while t < T0 + seconds:
        t = min(t + step, T0 + seconds)
        m.advance_to(t)
    return m


def test_kill_loses_at_most_one_save_interval(tmp_path: Path) -> None:
    m = _run(tmp_path, 3600 + 33, persistence={"save_interval_s": 60})
    before = m.register("import")
    del m  # killed: no clean save
    again = A1000(ideal_config(), start_time=T0 + 3633, state_dir=tmp_path)
    after = again.register("import")
    assert after <= before
    assert before - after <= KW * 60 / 3600  # the stated bound: one save interval
    assert again.err2 == 0


def test_power_down_saves_everything(tmp_path: Path) -> None:
    m = _run(tmp_path, 1234.5)
    m.set_seal_open(m.now, True)
    m.set_clock(m.now, m.meter_seconds() + 3600)  # a clock setting must survive too
    m.set_inputs(m.now, ElectricalInputs.dead())
    regs = {q: m.energy.value(q, 0, m.now) for q in ("import", "q1", "s_import")}
    meter_s = m.meter_seconds()
    again = A1000(ideal_config(), start_time=m.now + 86400, state_dir=tmp_path)
    for q, v in regs.items():
        assert again.energy.value(q, 0, again.now) == v  # exact
    # The clock ran on its battery for the day the meter was off.
    assert again.meter_seconds() == pytest.approx(meter_s + 86400 * (1 + 1e-6), abs=1e-3)


def test_damaged_state_uses_previous_generation_and_sets_err2(tmp_path: Path) -> None:
    m = _run(tmp_path, 600, persistence={"save_interval_s": 60})
    m.save()
    prev_doc = json.loads((tmp_path / PREVIOUS).read_text())
    cur = tmp_path / CURRENT
    cur.write_bytes(cur.read_bytes()[:-40] + b"garbage")  # torn / corrupted write
    again = A1000(ideal_config(), start_time=m.now, state_dir=tmp_path)
    assert again.err2 & ERR2_EEPROM
    bank = again.register_bank()
    assert bank.read("F.F.2", ())[0].values[0].value == "00000100"  # manual Appendix B
    saved = prev_doc["payload"]["energy"]["import"][0]
    assert str(again.energy.value("import", 0, again.now)) == saved


def test_flipped_byte_is_detected_by_the_checksum(tmp_path: Path) -> None:
    m = _run(tmp_path, 300, persistence={"save_interval_s": 60})
    m.save()
    cur = tmp_path / CURRENT
    doc = json.loads(cur.read_text())
    doc["payload"]["energy"]["import"][0] = "999/1"  # valid JSON, wrong content
    cur.write_text(json.dumps(doc))
    loaded = StateStore(tmp_path).load()
    assert loaded.damaged and loaded.source == tmp_path / PREVIOUS
    assert "checksum" in loaded.reason


def test_both_generations_damaged_starts_fresh_with_err2(tmp_path: Path) -> None:
    (tmp_path / CURRENT).write_text("{")
    (tmp_path / PREVIOUS).write_text("not json")
    m = A1000(ideal_config(), start_time=T0, state_dir=tmp_path)
    assert m.err2 & ERR2_EEPROM and m.register("import") == 0.0


def test_missing_current_after_a_kill_between_renames_is_not_damage(tmp_path: Path) -> None:
    m = _run(tmp_path, 300, persistence={"save_interval_s": 60})
    m.save()
    (tmp_path / CURRENT).replace(tmp_path / PREVIOUS)
    again = A1000(ideal_config(), start_time=m.now, state_dir=tmp_path)
    assert again.err2 == 0 and again.register("import") > 0


def test_energy_lost_at_power_down_defect(tmp_path: Path) -> None:
    m = _run(tmp_path, 600 + 45, persistence={"save_interval_s": 60},
             defects=[{"name": "energy_lost_at_power_down"}])
    before = m.register("import")
    m.set_inputs(m.now, ElectricalInputs.dead())
    m.set_inputs(m.now + 10, LOAD)
    after = m.register("import")
    assert after < before  # the healthy meter keeps every Wh (test above)
    assert before - after <= KW * 60 / 3600  # back to the last periodic save


def test_kill_while_writing_the_temporary_file_keeps_the_last_state(tmp_path: Path) -> None:
    m = _run(tmp_path, 300, persistence={"save_interval_s": 60})
    m.save()
    saved = m.energy.value("import", 0, m.now)
    (tmp_path / (CURRENT + ".tmp")).write_bytes(b'{"format": "a1000-st')  # torn write
    again = A1000(ideal_config(), start_time=m.now, state_dir=tmp_path)
    assert again.err2 == 0 and again.energy.value("import", 0, again.now) == saved
