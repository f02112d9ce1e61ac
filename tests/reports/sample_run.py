"""Builds realistic result stores for the report tests.

A batch of class 0.5S meters (limits from standards.md 1.2/1.3/1.4, uncertainty from an
error-calculator budget as in instruments.md 3) with every test family, healthy points,
failing points (position 2 reads high at low current), an inconclusive point under the
guarded rule (position 3) and one point that could not be measured (verdict 'error').
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from reports.records import DecisionRule, Measurement, PositionRecord, Repetitions, Verdict
from reports.store import ResultsStore
from rig.metrology import decide, error_budget, symmetric

BENCH_YAML = """\
name: lab-bench-A
lab: Example Meter Lab, Room 2
positions: 3
instruments:
  source:
    model: ZERA MT786
    serial: "MT786-0042"
    resource: TCPIP::127.0.0.1::6320::SOCKET
    calibration_date: 2026-03-14
    stated_uncertainty: 0.05 %
  reference:
    model: ZERA COM5003
    serial: "COM-1187"
    resource: TCPIP::127.0.0.1::6321::SOCKET
    calibration_date: 2026-01-20
    stated_uncertainty: "0.02 % (k=2)"
"""

# The validated bench configuration the rig stores with a run (rig.bench.config.BenchConfig as
# JSON, reports/benchinfo.py): what the report's instrument table reads.
BENCH_CONFIG = {
    "lab": "Example Meter Lab, Room 2",
    "instruments": {
        "source": {"driver": "mte_pps4003", "resource": "ASRL/dev/ttyS0::INSTR",
                   "model": "MTE PPS 400.3", "serial": "MT786-0042",
                   "calibration_date": "2026-03-14", "certificate": "DAkkS D-K-1 26-03",
                   "uncertainty": {"value": 0.05, "unit": "%", "k": 2.0}},
        "reference": {"driver": "zera_com5003", "resource": "TCPIP::127.0.0.1::6321::SOCKET",
                      "model": "ZERA COM5003", "serial": "COM-1187",
                      "calibration_date": "2026-01-20", "certificate": "DAkkS D-K-1 26-01",
                      "uncertainty": {"value": 0.02, "unit": "%", "k": 2.0}},
        "error_calculators": {}, "energy": None,
    },
    "traceability": [],
}

# standards.md 1.2 (balanced, class 0.5S): PF 1 +-1.0 % below 0.05 In, +-0.5 % above;
# PF 0.5 L / 0.8 C +-1.0 % below 0.1 In, +-0.6 % above.
BALANCED_LOADS = {"1": (0.01, 0.05, 0.1, 0.5, 1.0, 1.2), "0.5L": (0.02, 0.1, 0.5, 1.0),
                  "0.8C": (0.02, 0.1, 0.5, 1.0)}
SINGLE_LOADS = {"1": (0.05, 0.1, 1.0), "0.5L": (0.1, 1.0)}


def balanced_limit(load: float, pf: str) -> float:
    if pf == "1":
        return 1.0 if load < 0.05 else 0.5
    return 1.0 if load < 0.1 else 0.6


def single_limit(pf: str) -> float:
    # standards.md 1.3, class 0.5S
    return 0.6 if pf == "1" else 1.0


@dataclass
class SampleRun:
    run_id: str
    measurements: list[Measurement] = field(default_factory=list)
    # position -> expected overall verdict
    expected_position_verdict: dict[int, Verdict] = field(default_factory=dict)


def _rule_verdict(value: float | None, limit: tuple[float | None, float | None], u: float,
                  rule: DecisionRule) -> Verdict:
    return decide(value, limit[0], limit[1], rule=rule, expanded_uncertainty=u)


def build_sample(store: ResultsStore, *, positions: int = 3, finish: bool = True,
                 rule: DecisionRule = DecisionRule.GUARDED, seed: int = 7,
                 t0: float = 1_790_000_000.0, bench_file: str = BENCH_YAML,
                 report_templates: str | None = None) -> SampleRun:
    rng = random.Random(seed)
    run = store.create_run(
        plan_name="iec60687-0.5S-type", plan_version="1.2.0", operator="A. Tester",
        software_version="0.1.0", decision_rule=rule, bench_file=bench_file,
        bench_path="benches/lab-a.yaml", lab="Example Meter Lab",
        environment={"temperature_C": 23.1, "humidity_pct": 45, "supply": "3x230 V 50 Hz"},
        started_at=t0,
    )
    store.log(run.run_id, "bench configuration validated", kind="bench_config",
              data=(BENCH_CONFIG if report_templates is None
                    else {**BENCH_CONFIG, "report_templates": report_templates}), t=t0)
    sample = SampleRun(run.run_id)
    t = t0

    def add(m: Measurement) -> None:
        store.record(m)
        sample.measurements.append(m)

    for pos in range(1, positions + 1):
        store.add_position(PositionRecord(
            run_id=run.run_id, position=pos, serial=f"4711{pos:04d}", manufacturer="ABB",
            meter_type="A1000", firmware="2.04", constants={"active_imp_per_kWh": 10000},
            identity={"class": "0.5S", "Un_V": 230, "In_A": 5, "Imax_A": 6,
                      "ident": "/ABB5A1000"},
            read_at=t0 + pos,
        ))
        bias = 0.05 * pos
        for direction in ("import", "export"):
            for pf, loads in BALANCED_LOADS.items():
                for load in loads:
                    lim = balanced_limit(load, pf)
                    err = bias + rng.gauss(0, 0.05) + (0.002 / load if load < 0.1 else 0)
                    if pos == 2 and direction == "import" and pf == "1" and load == 0.01:
                        err = 1.37  # the faulty meter: high at low current
                    if pos == 3 and direction == "import" and pf == "0.5L" and load == 1.0:
                        err = 0.57  # inside the limit but within U of it
                    counts = 2e5 * load
                    budget = error_budget(reference_expanded=0.02 if pf == "1" else 0.04,
                                          reference_counts=counts, readings_stdev=0.01,
                                          readings_n=2)
                    u = round(budget.expanded, 4)
                    err = round(err, 4)
                    t += 30
                    add(Measurement(
                        run_id=run.run_id,
                        test_id=f"testplans/test_accuracy.py::test_balanced[{direction}-{pf}-{load}]",
                        family="accuracy", position=pos, quantity="active energy error",
                        value=err, unit="%", clause="IEC 62053-22 8.1 table 4",
                        point={"load": load, "pf": pf, "direction": direction,
                               "element": "balanced"},
                        limit_low=-lim, limit_high=lim, expanded_uncertainty=u,
                        uncertainty_budget=budget.to_json(),
                        verdict=_rule_verdict(err, symmetric(lim), u, rule), decision_rule=rule,
                        repetitions=Repetitions(n=2, mean=err, stdev=0.01),
                        raw={"n_dut": 20, "n_ref": int(counts), "n_ref_expected": int(counts)},
                        started_at=t - 25, ended_at=t,
                    ))
        for element in ("L1", "L2", "L3"):
            for pf, loads in SINGLE_LOADS.items():
                for load in loads:
                    lim = single_limit(pf)
                    err = round(bias + rng.gauss(0, 0.08), 4)
                    u = 0.1
                    t += 30
                    add(Measurement(
                        run_id=run.run_id,
                        test_id=f"testplans/test_accuracy.py::test_single[{element}-{pf}-{load}]",
                        family="single_element", position=pos, quantity="active energy error",
                        value=err, unit="%", clause="IEC 62053-22 8.1 table 5",
                        point={"load": load, "pf": pf, "direction": "import",
                               "element": element},
                        limit_low=-lim, limit_high=lim, expanded_uncertainty=u,
                        verdict=_rule_verdict(err, symmetric(lim), u, rule), decision_rule=rule,
                        started_at=t - 25, ended_at=t,
                    ))
        t += 600
        add(Measurement(
            run_id=run.run_id, test_id="testplans/test_accuracy.py::test_starting",
            family="starting", position=pos, quantity="pulses registered", value=3.0,
            unit="imp", clause="IEC 62053-22 8.3.3", point={"load": 0.001, "pf": "1"},
            limit_low=1, limit_high=None, verdict=Verdict.PASS,
            decision_rule=DecisionRule.SIMPLE, started_at=t - 590, ended_at=t))
        creep = 2.0 if pos == 2 else 0.0
        t += 900
        add(Measurement(
            run_id=run.run_id, test_id="testplans/test_accuracy.py::test_no_load",
            family="no_load", position=pos, quantity="pulses registered", value=creep,
            unit="imp", clause="IEC 62053-22 8.3.2", point={"voltage": 1.15, "load": 0},
            limit_low=None, limit_high=1,
            verdict=decide(creep, None, 1), decision_rule=DecisionRule.SIMPLE,
            message="creeping: 2 pulses in 14.5 min" if creep > 1 else "",
            started_at=t - 870, ended_at=t))
        for q, v in (("voltage", 1.1), ("voltage", 0.9), ("frequency", 1.02)):
            var = round(rng.gauss(0, 0.05), 4)
            t += 60
            add(Measurement(
                run_id=run.run_id,
                test_id=f"testplans/test_influence.py::test_{q}[{v}]",
                family="influence", position=pos, quantity="error variation", value=var,
                unit="%", clause="IEC 62053-22 8.2 table 6",
                point={"load": 1.0, "pf": "1", "influence": {"quantity": q, "value": v}},
                limit_low=-0.2, limit_high=0.2, expanded_uncertainty=0.05,
                verdict=_rule_verdict(var, (-0.2, 0.2), 0.05, rule), decision_rule=rule,
                started_at=t - 50, ended_at=t))
        for window in range(4):
            ref_kw = 3.45 if window % 2 == 0 else 1.725
            meter_kw = round(ref_kw * (1 + (bias + rng.gauss(0, 0.03)) / 100), 5)
            derr = round((meter_kw - ref_kw) / ref_kw * 100, 4)
            t += 900
            add(Measurement(
                run_id=run.run_id,
                test_id=f"testplans/test_demand.py::test_block_demand[w{window}]",
                family="demand", position=pos, quantity="demand error", value=derr, unit="%",
                clause="standards.md 3.2", point={"window": window, "window_start": t - 900,
                                                  "period_s": 900},
                limit_low=-0.56, limit_high=0.56, expanded_uncertainty=0.05,
                verdict=_rule_verdict(derr, (-0.56, 0.56), 0.05, rule), decision_rule=rule,
                raw={"meter": meter_kw, "reference": ref_kw, "unit": "kW"},
                started_at=t - 900, ended_at=t))
        for tariff in (1, 2):
            delay = 0.4 + 0.1 * tariff
            t += 120
            add(Measurement(
                run_id=run.run_id, test_id=f"testplans/test_tou.py::test_switch[T{tariff}]",
                family="tou", position=pos, quantity="switching delay", value=delay, unit="s",
                clause="IEC 62054-21", point={"tariff": tariff, "boundary": "06:00"},
                limit_low=0.0, limit_high=1.0, verdict=decide(delay, 0.0, 1.0),
                decision_rule=DecisionRule.SIMPLE, started_at=t - 100, ended_at=t))
        for hours in (6, 12, 18, 24, 48):
            drift = round(0.1 * pos * hours / 24 + rng.gauss(0, 0.01), 4)
            t += 10
            add(Measurement(
                run_id=run.run_id, test_id=f"testplans/test_clock.py::test_clock_error[{hours}h]",
                family="clock", position=pos, quantity="clock error", value=drift, unit="s",
                clause="IEC 62054-21", point={"elapsed_s": hours * 3600.0},
                limit_low=-0.5 * hours / 24, limit_high=0.5 * hours / 24,
                verdict=decide(drift, -0.5 * hours / 24, 0.5 * hours / 24),
                decision_rule=DecisionRule.SIMPLE, started_at=t - 5, ended_at=t))
        for event in ("power_down", "phase_loss_L2"):
            t += 20
            detected = not (pos == 3 and event == "phase_loss_L2")
            add(Measurement(
                run_id=run.run_id, test_id=f"testplans/test_events.py::test_event[{event}]",
                family="events", position=pos, quantity="event logged",
                value=None if not detected else 1.0, unit="",
                clause="A1000 manual events", point={"event": event},
                limit_low=1, limit_high=1,
                verdict=Verdict.ERROR if not detected else Verdict.PASS,
                decision_rule=DecisionRule.SIMPLE,
                message="" if detected else "event log read timed out", started_at=t - 15,
                ended_at=t))
    for m in sample.measurements:
        current = sample.expected_position_verdict.get(m.position, Verdict.PASS)
        order = [Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.ERROR, Verdict.FAIL]
        if order.index(Verdict(m.verdict)) > order.index(current):
            current = Verdict(m.verdict)
        sample.expected_position_verdict[m.position] = current
    store.log(run.run_id, "bench energised", t=t0 + 1)
    if finish:
        store.finish_run(run.run_id, ended_at=t + 60)
    return sample


def make_store(tmp: Path, **kwargs) -> tuple[Path, SampleRun]:
    runs_dir = tmp / "runs"
    with ResultsStore.in_runs_dir(runs_dir) as store:
        sample = build_sample(store, **kwargs)
    return runs_dir, sample
