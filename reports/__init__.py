"""Results store and accuracy reports of meter-test-rig (knows nothing of rig/ or meter/).

    from reports import ResultsStore, Measurement
    store = ResultsStore.in_runs_dir("runs")            # runs/results.sqlite
    run = store.create_run(plan_name=..., plan_version=..., operator=..., software_version=...)
    store.record(Measurement(run_id=run.run_id, ...))   # committed at once
    store.finish_run(run.run_id)
    reports.build.build_report(run.run_id, "runs")      # runs/<run_id>/report.html, .csv, .json

The report builder (reports.build) is imported on demand. A report reads a run's rows once
(reports.rows) as these records: each measurement a StoredMeasurement, each position a
PositionRecord, each log line an Event.
"""

from reports.records import (
    DecisionRule,
    Event,
    Measurement,
    MeasurementKey,
    PositionRecord,
    Repetitions,
    RunInfo,
    RunStatus,
    StoredMeasurement,
    Verdict,
)
from reports.store import (
    ResultsStore,
    RunData,
    RunNotFoundError,
    SchemaVersionError,
    StoreError,
    store_path,
)

__all__ = [
    "DecisionRule",
    "Event",
    "Measurement",
    "MeasurementKey",
    "PositionRecord",
    "Repetitions",
    "ResultsStore",
    "RunData",
    "RunInfo",
    "RunNotFoundError",
    "RunStatus",
    "SchemaVersionError",
    "StoreError",
    "StoredMeasurement",
    "Verdict",
    "store_path",
]
