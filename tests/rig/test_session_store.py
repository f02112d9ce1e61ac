"""Which results store a session writes: --store, the bench file's `store:`, the environment."""

from __future__ import annotations

from pathlib import Path

from rig.session import SessionOptions, store_of

ROOT = Path(__file__).resolve().parents[2]
URL = "postgresql://lab@db.lab.example:5432/results"


def test_the_bench_files_store_comes_after_the_option(tmp_path, monkeypatch):
    monkeypatch.delenv("METER_TEST_RIG_STORE", raising=False)
    text = (ROOT / "benches" / "fluke6105a-com5003.yaml").read_text(encoding="utf-8")
    bench = tmp_path / "bench.yaml"
    bench.write_text(text + f"store: {URL}\n", encoding="utf-8")
    lab = SessionOptions(bench=str(bench), runs_dir=tmp_path / "runs")
    assert store_of(lab) == URL
    assert store_of(SessionOptions(bench=str(bench), store="/x/lab.sqlite")) == Path(
        "/x/lab.sqlite")
    # The simulated bench has no bench file of the lab's: the environment, else runs_dir.
    assert store_of(SessionOptions(runs_dir=tmp_path)) == tmp_path / "results.sqlite"
    monkeypatch.setenv("METER_TEST_RIG_STORE", URL)
    assert store_of(SessionOptions(runs_dir=tmp_path)) == URL
