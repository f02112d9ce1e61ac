"""reports.benchinfo: the report's instrument table from the validated bench configuration the
rig stores with a run (the store's bench_config event, else runs/<run_id>/bench.json)."""

from __future__ import annotations

import json

from reports.benchinfo import BENCH_JSON, bench_info, from_config
from reports.store import ResultsStore
from tests.reports.sample_run import BENCH_CONFIG


def test_every_role_and_traceability_item_with_its_fields() -> None:
    config = {
        **BENCH_CONFIG,
        "instruments": {
            **BENCH_CONFIG["instruments"],
            "error_calculators": {"mad2": {"driver": "zera_mad", "resource": "TCPIP::h::1::SOCKET",
                                           "model": None}},
        },
        "traceability": [{"item": "scanning head 1", "serial": "SH-7",
                          "calibration_date": "2026-02-01", "certificate": "C-9",
                          "uncertainty": "0.01 % (k=2)"}],
    }
    info = from_config(config)
    assert info.lab == "Example Meter Lab, Room 2"
    assert [i.role for i in info.instruments] == [
        "source", "reference", "error_calculators.mad2", "scanning head 1"]
    ref = info.instruments[1]
    assert ref.fields == {"model": "ZERA COM5003", "serial": "COM-1187",
                          "calibration": "2026-01-20", "uncertainty": "0.02 % (k=2)",
                          "resource": "TCPIP::127.0.0.1::6321::SOCKET"}
    assert ref.other == {"driver": "zera_com5003", "certificate": "DAkkS D-K-1 26-01"}
    # No model stated: the driver names the instrument.
    assert info.instruments[2].fields["model"] == "(zera_mad driver)"
    assert info.instruments[3].fields["uncertainty"] == "0.01 % (k=2)"


def test_read_from_the_store_event_else_the_run_folder_else_a_problem(tmp_path) -> None:
    with ResultsStore.in_runs_dir(tmp_path) as store:
        first = store.create_run(plan_name="p", plan_version="1", operator="o",
                                 software_version="0").run_id
        store.log(first, "bench configuration validated", kind="bench_config",
                  data=BENCH_CONFIG)
        second = store.create_run(plan_name="p", plan_version="1", operator="o",
                                  software_version="0").run_id
        third = store.create_run(plan_name="p", plan_version="1", operator="o",
                                 software_version="0", bench_file="lab: raw text only\n").run_id
        folder = tmp_path / second
        folder.mkdir()
        (folder / BENCH_JSON).write_text(json.dumps({**BENCH_CONFIG, "lab": "From the file"}))
        infos = [bench_info(store.load_run(r)) for r in (first, second, third)]
    assert infos[0].lab == "Example Meter Lab, Room 2" and len(infos[0].instruments) == 2
    assert infos[1].lab == "From the file"
    assert "no validated bench configuration stored" in infos[2].problem
    assert infos[2].instruments == []
