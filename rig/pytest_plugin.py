"""The rig's pytest plugin: bench, plan and results store as pytest options and fixtures.

Registered by the root conftest.py and as the `pytest11` entry point `meter_test_rig`.

- Options (group "meter-test-rig"): --bench, --plan, --positions, --meter-model, --runs-dir,
  --store, --resume, --operator, --decision-rule, --defect, --no-report, --coverage.
- Markers: `family(name)` on a plan test says which plan items it runs (the plugin
  parametrises it with them); `clause(text)` is put on every parametrised test from its item.
- Fixtures: `rig` (the session), `bench` (safe state guaranteed on every exit path),
  `source`, `reference`, `positions`, `timebase`, `plan`, `recorder`, `sim` (the simulator's
  control endpoint; a test needing it is skipped on a lab bench).

Nothing starts until a test asks for a fixture, so `pytest tests/` never touches a bench.

Stopping: while the rig is up, SIGINT (Ctrl-C) and SIGTERM are stop requests (rig.safety): the
stop watcher de-energises and verifies at once (rig.stopwatch), the test running ends at its
next wait or meter exchange (StopRequested), pytest stops after it (`session.shouldstop`), the
run is closed as `aborted` and its report marked so; pytest exits with code 2 (interrupted).
"""

from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.records import RunStatus
from rig import itemlog
from rig.bench.config import BenchConfig, BenchFileError, load_bench_file
from rig.bench.loadcheck import LoadMismatch
from rig.collector import settled_heap
from rig.loads import Rating
from rig.plan import DEFAULT_PLAN, Plan, PlanError, current_label, load_plan
from rig.preflight import START_ERRORS, PreflightError, check_options, start_failure
from rig.recorder import Recorder
from rig.safety import SafetyError, StopRequested
from rig.session import SIM_BENCH_FILE, SIM_PROCESS_CHOICES, RigSession, SessionOptions

# A failing plan test shows its measurement facts, not the rig's traceback.
pytest_plugins = ["rig.plan_failures"]

SESSION_KEY = pytest.StashKey[RigSession]()
PLAN_KEY = pytest.StashKey[Plan]()
SUMMARY_KEY = pytest.StashKey[list[str]]()
UNSAFE_KEY = pytest.StashKey[str]()  # the source could not be verified off at the end
PLANNED_KEY = pytest.StashKey[dict[str, float]]()  # test id -> its planned seconds
MINIMUM_KEY = pytest.StashKey[dict[str, float]]()  # test id -> its physical minimum
TIMES_KEY = pytest.StashKey[dict[str, dict]]()  # test id -> its bench time (_bench_time)
PLANNED_TESTS_KEY = pytest.StashKey[list[Any]]()  # rig.benchtime.PlannedTest of each plan test
PROGRESS_PLUGIN = "meter-test-rig-progress"
STOPPED_KEY = pytest.StashKey[str]()  # on a test cut short by a stop request: why
DESELECTED_KEY = pytest.StashKey[list[pytest.Item]]()  # for the report's coverage statement
SCHEDULE_KEY = pytest.StashKey[Any]()  # rig.schedule.Schedule of the collected plan tests


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meter-test-rig", "meter-test-rig bench, plan and results")
    group.addoption(
        "--bench",
        default="sim",
        help="'sim' (default): the simulated bench on 127.0.0.1; or a bench file (YAML)",
    )
    group.addoption(
        "--plan",
        default=DEFAULT_PLAN,
        help=f"plan name under testplans/plans or a YAML path (default {DEFAULT_PLAN})",
    )
    group.addoption(
        "--positions", type=int, default=None, help="simulated bench: number of meter positions"
    )
    group.addoption(
        "--meter-model",
        default=None,
        help="simulated bench: import path 'module:Class' of the meter model (default the A1000)",
    )
    group.addoption(
        "--visa-library",
        default=None,
        metavar="LIBRARY",
        help="PyVISA library for the instruments: '@py' (default; GPIB needs "
        "meter-test-rig[gpib]), '@ivi' for the vendor's VISA, or a library path; overrides the "
        "bench file's visa_library",
    )
    group.addoption("--runs-dir", default="runs", help="where the results store lives")
    group.addoption(
        "--store",
        default=None,
        metavar="URL",
        help="results store: postgresql://USER@HOST:PORT/DB (a lab's shared database) or a "
        "SQLite file (default: the bench file's store, then $METER_TEST_RIG_STORE, then "
        "RUNS_DIR/results.sqlite)",
    )
    group.addoption("--resume", default=None, metavar="RUN_ID", help="continue a killed run")
    group.addoption("--operator", default=None, help="operator name for the report")
    group.addoption(
        "--decision-rule",
        choices=("simple", "guarded"),
        default="simple",
        help="simple acceptance (default) or guarded acceptance by the expanded uncertainty",
    )
    group.addoption(
        "--defect",
        action="append",
        default=[],
        metavar="[POS,..=]NAME[:k=v,..]",
        help="simulated bench: give the meters (or the listed positions) a named defect",
    )
    group.addoption(
        "--sim-process",
        choices=SIM_PROCESS_CHOICES,
        default="auto",
        help="simulated bench: serve it in a process of its own beside the rig (yes), in the "
        "rig's process (no), or (auto, the default) in its own when a core is free for it; "
        "$METER_TEST_RIG_SIM_PROCESS pins auto (README 'The simulated bench in a process of "
        "its own')",
    )
    group.addoption("--no-report", action="store_true", help="do not build the report at the end")
    group.addoption("--no-pdf", action="store_true", help="build the report without report.pdf")
    group.addoption("--report-meta", default=None, metavar="FILE",
                    help="report metadata file: customer, item, report number, authoriser "
                    "(reports/reportmeta.py)")
    group.addoption(
        "--coverage",
        action="store_true",
        help="print the plan's coverage matrix (quantity x element x direction x "
        "register/output x condition, with the items filling each cell) and run nothing; "
        "exit status 1 when a stated cell is empty",
    )
    group.addoption(
        "--allow-overdue",
        action="store_true",
        help="run although an instrument's calibration is overdue (stated on the report)",
    )
    group.addoption(
        "--lock-dir",
        default=None,
        help="where lab-bench lock files live (default: meter-test-rig-locks in the temp dir)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "family(name, **fields): a plan test; the plugin runs it for the plan's items of "
        "`name` (whose fields equal `fields`)",
    )
    config.addinivalue_line("markers", "clause(text): the standard's clause a test verifies")
    config.addinivalue_line(
        "markers",
        "procedure(cls): a plan test's procedure class (rig.procedures), built from the test's "
        "parameters for the `procedure` fixture and for the plan's estimate (rig.benchtime)",
    )
    # A bad --plan or option is a usage error before anything is collected. The plugin stays
    # dormant in a pytest run that uses neither its options nor the plans.
    if not config.option.help and _in_use(config):
        plan_of(config)
        _preflight(config)
        _report_meta(config)


def _report_meta(config: pytest.Config) -> Path | None:
    """The --report-meta file, checked before anything runs (errors name file and key)."""
    from reports.reportmeta import ReportMetaError, load_meta

    given = config.option.report_meta
    if not given:
        return None
    path = Path(config.invocation_params.dir) / given
    try:
        load_meta(path)
    except ReportMetaError as exc:
        raise pytest.UsageError(str(exc)) from None
    return path


def _in_use(config: pytest.Config) -> bool:
    """True when the run asks for the rig: one of its options given, or the plans collected."""
    opt = config.option
    given = (
        opt.bench != "sim"
        or opt.plan != DEFAULT_PLAN
        or opt.positions is not None
        or opt.meter_model
        or opt.defect
        or opt.resume
        or opt.store
    )
    return bool(given) or any("testplans" in str(arg) for arg in config.args)


def _preflight(config: pytest.Config) -> None:
    """Every option and input mistake as one usage error, before anything is collected."""
    try:
        check_options(_options(config))
    except PreflightError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """--coverage: the matrix of the plan (rig.coverage) instead of a run."""
    if not config.getoption("coverage", False):
        return None
    from rig.coverage import empty_cells, matrix_lines

    plan = plan_of(config)
    for line in matrix_lines(plan):
        print(line)
    return 1 if empty_cells(plan) else 0


def _options(config: pytest.Config) -> SessionOptions:
    opt = config.option
    runs_dir = Path(opt.runs_dir)
    if not runs_dir.is_absolute():
        runs_dir = Path(config.invocation_params.dir) / runs_dir
    bench = opt.bench
    if bench != "sim":
        path = Path(bench)
        if not path.is_absolute():
            path = Path(config.invocation_params.dir) / path
        bench = str(path)
    return SessionOptions(
        bench=bench,
        plan=opt.plan,
        positions=opt.positions,
        meter_model=opt.meter_model,
        visa_library=opt.visa_library,
        runs_dir=runs_dir,
        resume=opt.resume,
        operator=opt.operator or getpass.getuser(),
        decision_rule=opt.decision_rule,
        defects=tuple(opt.defect),
        report=not opt.no_report,
        allow_overdue=opt.allow_overdue,
        lock_dir=Path(opt.lock_dir) if opt.lock_dir else None,
        store=opt.store,
        sim_process=opt.sim_process,
    )


def plan_of(config: pytest.Config) -> Plan:
    if PLAN_KEY not in config.stash:
        try:
            config.stash[PLAN_KEY] = load_plan(config.option.plan)
        except PlanError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[PLAN_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("family")
    if marker is None or "plan_item" not in metafunc.fixturenames:
        return
    family = marker.args[0]
    # Keyword arguments of the marker select items by field, e.g. family("tou", check="priority").
    items = [
        item
        for item in plan_of(metafunc.config).by_family(family)
        if all(getattr(item, k, None) == v for k, v in marker.kwargs.items())
    ]
    # Each item, times its points and its directions when the test asks for them.
    names = ["plan_item"]
    with_points = "point" in metafunc.fixturenames
    with_directions = "direction" in metafunc.fixturenames
    names += ["point"] if with_points else []
    names += ["direction"] if with_directions else []
    params = []
    for item in items:
        points = item.points if with_points else (None,)  # type: ignore[union-attr]
        directions = item.directions if with_directions else (None,)  # type: ignore[union-attr]
        for point in points:
            for direction in directions:
                values = [item]
                ident = item.id
                if with_points:
                    values.append(point)
                    ident += f"-{current_label(point.current)}"
                if with_directions:
                    values.append(direction)
                    ident += f"-{direction}"
                params.append(pytest.param(*values, id=ident))
    metafunc.parametrize(names, params)


@pytest.hookimpl(trylast=True)  # after -k / -m: the estimate and schedule of what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each plan test with its clause; deselect plan tests the plan has no items for;
    order the background items around their hosts (rig.schedule)."""
    keep, drop = [], []
    on_lab_bench = not _options(config).simulated
    for test in items:
        if test.get_closest_marker("family") is None:
            keep.append(test)
            continue
        callspec = getattr(test, "callspec", None)
        item = callspec.params.get("plan_item") if callspec is not None else None
        if hasattr(item, "clause"):  # pytest's NOTSET stands in for an empty family
            test.add_marker(pytest.mark.clause(item.clause))
            keep.append(test)
            if item.simulated_only and on_lab_bench:
                test.add_marker(pytest.mark.skip(
                    reason=f"{item.id}: simulated bench only (virtual time); on a lab bench: "
                           f"{item.simulated_only}"))
        else:
            drop.append(test)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    # Skipped tests take no bench time: they stay out of the estimate and its time limits.
    _plan_time_limits(config, [t for t in keep if t.get_closest_marker("skip") is None])
    _schedule_background(config, items)


def _schedule_background(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order background items around their hosts (rig.schedule) and count their overlapped
    time once: the scheduled block runs where its first test was collected."""
    from rig.schedule import schedule, scheduled_test

    present = {t.nodeid for t in items}
    planned = {n: s for n, s in config.stash.get(PLANNED_KEY, {}).items() if n in present}
    planned_tests = [t for t in config.stash.get(PLANNED_TESTS_KEY, []) if t.nodeid in present]
    minimum = {t.nodeid: t.minimum for t in planned_tests}
    tests, durations = [], {}
    for t in items:
        p = _plan_params(t)
        if p is None or t.nodeid not in planned:
            continue
        marker = t.get_closest_marker("procedure")
        test = scheduled_test(t.nodeid, p["plan_item"], planned[t.nodeid],
                              marker.args[0] if marker and marker.args else None,
                              minimum[t.nodeid], p.get("point"))
        if test.condition is not None:
            durations[test.item_id] = p["plan_item"].duration_h * 3600.0
        tests.append(test)
    plan = schedule(tests, durations)
    config.stash[SCHEDULE_KEY] = plan
    if plan.windows:
        by_id = {t.nodeid: t for t in items}
        block = set(plan.order)
        first = next(t.nodeid for t in items if t.nodeid in block)
        ordered: list[pytest.Item] = []
        for t in items:
            if t.nodeid not in block:
                ordered.append(t)
            elif t.nodeid == first:
                ordered += [by_id[n] for n in plan.order]
        items[:] = ordered
    # The end test's own time is what its hosts do not cover.
    for w in plan.windows:
        planned[w.end] -= w.overlap_s
        minimum[w.end] -= w.minimum_overlap_s
    # A boundary-aligned test after another family's waits half an interval on average.
    for nodeid, early in plan.unaligned.items():
        planned[nodeid] -= early
        minimum[nodeid] -= early
    config.stash[PLANNED_KEY] = planned
    config.stash[MINIMUM_KEY] = minimum
    config.stash[PLANNED_TESTS_KEY] = [
        dataclasses.replace(t, seconds=planned[t.nodeid], minimum=minimum[t.nodeid])
        for t in planned_tests]


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Keep what -k / -m deselected: the report names the plan items that did not run."""
    if items:
        config = items[0].config
        config.stash.setdefault(DESELECTED_KEY, []).extend(items)


def _plan_params(test: pytest.Item) -> dict[str, Any] | None:
    """The parameters of a parametrised plan test (its plan item under "plan_item"), else
    None."""
    callspec = getattr(test, "callspec", None)
    if test.get_closest_marker("family") is None or callspec is None:
        return None
    if not hasattr(callspec.params.get("plan_item"), "family"):
        return None
    return dict(callspec.params)


def _procedure(test: pytest.Item, params: dict[str, Any], rating: Rating) -> Any:
    """The procedure a plan test runs (its `procedure` marker, built from its parameters)."""
    from rig.benchtime import NoPlannedTime, build_procedure

    marker = test.get_closest_marker("procedure")
    if marker is None or len(marker.args) != 1:
        raise NoPlannedTime(
            f"{test.nodeid}: plan family {params['plan_item'].family!r} names no procedure "
            "(pytest.mark.procedure.with_args(cls)): its planned bench time is unknown")
    return build_procedure(marker.args[0], params, rating, test.nodeid)


def _plan_time_limits(config: pytest.Config, tests: list[pytest.Item]) -> None:
    """Each plan test's planned wall time on a real bench, from its own procedure (kept for the
    estimate and the progress line), and its own time limit from it: pytest-timeout's ini
    `timeout` is for the project's tests only."""
    from rig.bench.calculators import AssignmentError, chains_repetitions
    from rig.benchtime import (
        NoPlannedTime,
        PlannedTest,
        minimum_seconds,
        planned_seconds,
        time_limit_s,
    )
    from rig.measure import planned_for_bench

    params = {t.nodeid: (t, p) for t in tests if (p := _plan_params(t)) is not None}
    if not params:
        return
    bench = _bench_config(config)
    rating = Rating.of(bench.positions[0])
    try:
        chains = chains_repetitions(bench)
    except AssignmentError as exc:
        raise pytest.UsageError(str(exc)) from None
    planned: list[PlannedTest] = []
    try:
        with planned_for_bench(chains):
            for nodeid, (test, p) in params.items():
                family = p["plan_item"].family
                procedure = _procedure(test, p, rating)
                seconds = planned_seconds(procedure, family, nodeid)
                planned.append(PlannedTest(nodeid, family, seconds,
                                           bool(p["plan_item"].simulated_only),
                                           minimum_seconds(procedure)))
    except NoPlannedTime as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[PLANNED_TESTS_KEY] = planned
    config.stash[PLANNED_KEY] = {t.nodeid: t.seconds for t in planned}
    if config.pluginmanager.hasplugin("timeout"):
        for test in tests:
            if test.nodeid in config.stash[PLANNED_KEY]:
                test.add_marker(pytest.mark.timeout(
                    time_limit_s(config.stash[PLANNED_KEY][test.nodeid])))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Print the estimated wall time of the collected plan tests on a real bench, and show the
    run's progress while they run."""
    plan_tests = session.config.stash.get(PLANNED_TESTS_KEY, [])
    if not plan_tests:
        return
    from rig.benchtime import estimate_lines
    from rig.progress import RunProgress

    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    for line in estimate_lines(plan_tests):
        reporter.write_line(line)
    plan_schedule = config.stash.get(SCHEDULE_KEY, None)
    for line in plan_schedule.lines() if plan_schedule is not None else ():
        reporter.write_line(line)
    planned = config.stash.get(PLANNED_KEY, {})
    if planned and not config.pluginmanager.has_plugin(PROGRESS_PLUGIN):
        progress = RunProgress(
            config.get_terminal_writer(),
            config.pluginmanager.get_plugin("capturemanager"),
            planned,
            lambda: config.stash.get(SESSION_KEY, None),
        )
        config.pluginmanager.register(progress, PROGRESS_PLUGIN)
        from rig.progressfeed import ProgressFeed

        # The same facts into the store, for the lab panel (python -m reports serve).
        config.pluginmanager.register(
            ProgressFeed(progress.state, lambda: config.stash.get(SESSION_KEY, None)),
            f"{PROGRESS_PLUGIN}-feed",
        )


def _bench_config(config: pytest.Config) -> BenchConfig:
    """The run's bench as the session will build it (the simulated one through SimBench, with
    --positions' separate calculators), read and validated before anything is opened."""
    options = _options(config)
    try:
        if not options.simulated:
            return load_bench_file(options.bench)
        from rig.sim.bench import SimBench, SimBenchError

        try:
            return SimBench(SIM_BENCH_FILE, positions=options.positions).config
        except SimBenchError as exc:
            raise pytest.UsageError(str(exc)) from None
    except (BenchFileError, OSError) as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def rig(request: pytest.FixtureRequest) -> Any:
    """The rig session: bench (simulated or from a bench file), timebase, store and run."""
    config = request.config
    try:
        session = RigSession(_options(config))
    except PlanError as exc:
        raise pytest.UsageError(str(exc)) from None
    _stop_pytest_on_request(request.session, session)
    session.operator_prompt = _operator_prompt(config)
    try:
        session.start()
    except START_ERRORS as exc:  # the operator's input: one line, not one traceback per test
        if hasattr(config, "workerinput"):
            # A pytest-xdist worker cannot end the run (pytest.exit there is a crashed worker
            # and an INTERNALERROR): its test fails with the line and the worker stops.
            request.session.shouldstop = start_failure(exc)
            pytest.fail(start_failure(exc), pytrace=False)
        pytest.exit(start_failure(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    config.stash[SESSION_KEY] = session
    assert session.store is not None and session.run is not None
    itemlog.declare(session.store, session.run.run_id, plan_of(config), request.session.items,
            config.stash.get(DESELECTED_KEY, []))
    with settled_heap():  # the session, bench and items live to the end (rig.collector)
        yield session
    status = RunStatus.COMPLETED
    if request.session.shouldstop or request.session.shouldfail:
        status = RunStatus.ABORTED
    _finish(config, session, status)


def _stop_pytest_on_request(pytest_session: pytest.Session, session: RigSession) -> None:
    """A stop request ends the pytest session after the test running (which ends at its next
    wait or exchange). Called in the signal handler: it only sets the flag. Not once the run
    was stored as completed: the report is built in the last test's teardown, and pytest
    would report the completed run as interrupted (exit 2)."""

    def on_request(reason: str) -> None:
        if session.stopped:
            pytest_session.shouldstop = f"meter-test-rig: {reason}: run aborted"

    session.stop.listeners.append(on_request)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A run that was asked to stop exits as interrupted (2), however far pytest got, unless
    the run had been stored as completed before the request; a source not verified off at
    the end makes it an error (3)."""
    rig = session.config.stash.get(SESSION_KEY, None)
    if UNSAFE_KEY in session.config.stash:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    elif rig is not None and rig.stopped:
        session.exitstatus = pytest.ExitCode.INTERRUPTED
    elif rig is not None and rig.stop.requested:
        # The signal came after the run was stored as completed (while its report was built):
        # nothing was stopped, the report was built to its end (the handlers stay until
        # unconfigure), and the exit status is the run's own.
        _write(session.config, f"meter-test-rig: {rig.stop.reason} after the run was stored "
                               "as completed: nothing was stopped; its results and report "
                               "stand")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A test cut short by a stop request fails with one line, at once: pytest's traceback
    of it (source lines of every frame) would cost tenths of a second before the bench is
    de-energised, and it says nothing about the meter. Before it, a reading of the room if one
    is due (rig.environment: the operator is asked between items, not in the middle of one)."""
    session = item.config.stash.get(SESSION_KEY, None)
    start = None
    if session is not None:
        session.environment_check()
        session.loads.test = item.nodeid  # the loads it applies are logged with its id
        start = session.timebase.now()
    try:
        result = yield
    except StopRequested as exc:
        item.stash[STOPPED_KEY] = str(exc)
        pytest.fail(f"{item.nodeid}: {exc} (not finished)", pytrace=False)
    finally:
        if session is not None and not session.stop.requested:
            _background_readings(session)
            _bench_time(item, session, start)
    return result


def _bench_time(item: pytest.Item, session: RigSession, start: float | None) -> None:
    """A plan test's bench time (its timebase's clock: virtual time on the simulated bench)
    beside its estimate, kept for rig.timeline and stored with the run for the report's
    actual-against-estimate section (reports/benchtime.py)."""
    params = _plan_params(item)
    if params is None or start is None or session.store is None or session.run is None:
        return
    from reports.benchtime import BENCH_TIME

    plan_item = params["plan_item"]
    row = {"nodeid": item.nodeid, "family": plan_item.family,
           "simulated_only": bool(plan_item.simulated_only),
           "timeline_s": session.timebase.now() - start,
           "estimate_s": item.config.stash.get(PLANNED_KEY, {}).get(item.nodeid),
           "minimum_s": item.config.stash.get(MINIMUM_KEY, {}).get(item.nodeid)}
    item.config.stash.setdefault(TIMES_KEY, {})[item.nodeid] = row
    session.store.log(session.run.run_id, f"{item.nodeid}: {row['timeline_s']:.1f} s on the "
                      "bench", kind=BENCH_TIME, data=row)


def _background_readings(session: RigSession) -> None:
    """Between two tests: each background item's readings that fell due (rig.procedures.clock;
    a failure is kept for the item's end test)."""
    if not session.background:
        return
    from rig.procedures import Context

    ctx = Context.of(session)
    for clock in session.background.values():
        clock.read_due(ctx)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Each plan test's outcome goes into the run log."""
    report = yield
    stopped = STOPPED_KEY in item.stash and call.when == "call"
    if call.excinfo is not None and call.excinfo.errisinstance(LoadMismatch):
        # A wrong load (angle convention, wiring, harmonics) is the bench's fault, not the
        # meter's: every further point would be wrong too, so the run stops here.
        item.session.shouldstop = f"applied-load check failed: {call.excinfo.value}"
    session = item.config.stash.get(SESSION_KEY, None)
    logged = report.when == "call" or (report.failed and report.when == "setup")
    if session is not None and logged and item.get_closest_marker("family") is not None:
        outcome = "error in setup" if report.when == "setup" else report.outcome
        outcome = "stopped before its end" if stopped else outcome
        session.log(f"{item.nodeid}: {outcome}", level="info" if report.passed else "warning")
    if session is not None and session.run is not None and (
            report.when == "call" or (report.when == "setup" and not report.passed)):
        assert session.store is not None
        text = report.outcome if report.when == "call" else (
            "skipped" if report.skipped else "error in setup")
        itemlog.outcome(session.store, session.run.run_id, item, report,
                "stopped before its end" if stopped else text)
    return report


def _operator_prompt(config: pytest.Config) -> Any:
    """Show a line to the operator and return the line typed, with pytest's capture suspended."""
    capture = config.pluginmanager.get_plugin("capturemanager")

    def prompt(text: str) -> str:
        if capture is not None:
            capture.suspend_global_capture(in_=True)
        try:
            return input(f"\n>>> {text} ")
        finally:
            if capture is not None:
                capture.resume_global_capture()

    return prompt


def _finish(config: pytest.Config, session: RigSession, status: RunStatus) -> None:
    """Close the session and build the report (this runs in pytest's session finish: a source
    not verified off is reported in the summary and the exit code, not raised). The stop
    request's handlers stay until pytest unconfigures, so a late Ctrl-C interrupts neither the
    report nor the summary."""
    run = session.run
    runs_dir = session.options.runs_dir
    off = "source off (verified)"
    try:
        session.close(status)
    except SafetyError as exc:
        config.stash[UNSAFE_KEY] = off = f"DANGER: {exc}; switch the source off by hand"
    # A stop requested once the run was stored as completed stopped nothing of it
    # (pytest_sessionfinish says so).
    if session.stopped or UNSAFE_KEY in config.stash:
        reason = f"{session.stop.reason}: run aborted, " if session.stopped else ""
        _write(config, f"meter-test-rig: {reason}{off}")
    if run is None or not session.options.report:
        return
    from reports.build import build_report

    try:
        result = build_report(run.run_id, runs_dir, meta=_report_meta(config),
                              pdf=not config.option.no_pdf, store=session.store_location)
    except Exception as exc:  # a report problem must never hide the run's results
        _write(config, f"meter-test-rig: report for run {run.run_id} failed: {exc}")
        return
    files = ", ".join(str(p) for p in result.files.values())
    _write(config, f"meter-test-rig: run {run.run_id} report: {files}")
    for note in result.notes:
        _write(config, f"meter-test-rig: {note}")


def _write(config: pytest.Config, line: str) -> None:
    """Keep a line for the terminal summary (teardown output would be swallowed)."""
    config.stash.setdefault(SUMMARY_KEY, []).append(line)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY_KEY, []):
        terminalreporter.write_line(line)
    session = config.stash.get(SESSION_KEY, None)
    for name, _ in session.stop.repeated if session is not None else ():
        terminalreporter.write_line(
            f"meter-test-rig: {name} again while stopping: ignored, the source was still "
            "switched off and verified"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    """The rig's SIGINT/SIGTERM handlers go last (see _finish)."""
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.stop.uninstall()


@pytest.fixture(scope="session")
def bench(rig: RigSession) -> Any:
    """The bench (a safety context: de-energised on every exit path)."""
    return rig.bench


@pytest.fixture(scope="session")
def source(bench: Any) -> Any:
    return bench.source


@pytest.fixture(scope="session")
def reference(bench: Any) -> Any:
    return bench.reference


@pytest.fixture(scope="session")
def positions(rig: RigSession) -> Any:
    """The meters under test, with their IEC 62056-21 links."""
    return rig.positions


@pytest.fixture(scope="session")
def timebase(rig: RigSession) -> Any:
    return rig.timebase


@pytest.fixture(scope="session")
def plan(request: pytest.FixtureRequest) -> Plan:
    return plan_of(request.config)


@pytest.fixture
def sim(rig: RigSession) -> Any:
    """The simulator's control endpoint (skips the test on a lab bench)."""
    if rig.sim is None:
        pytest.skip("needs the simulated bench (fault injection / meter buttons)")
    return rig.sim.control


@pytest.fixture
def procedure(request: pytest.FixtureRequest, positions: Any) -> Any:
    """The plan test's procedure (its `procedure` marker) built from the test's parameters and
    the meters' rating: the object whose planned time the estimate summed."""
    from rig.benchtime import NoPlannedTime

    params = _plan_params(request.node)
    if params is None:
        raise pytest.UsageError(f"{request.node.nodeid}: the procedure fixture is for plan tests")
    try:
        return _procedure(request.node, params, Rating.of(positions[0].config))
    except NoPlannedTime as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture
def recorder(rig: RigSession, request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Records this test's measurements (each committed at once, or a point's results at
    every position together inside `recorder.batch()`). Afterwards each measurement's value,
    limits, uncertainty and verdict go into the JUnit XML as properties, and the positions'
    verdicts into the progress line."""
    assert rig.store is not None and rig.run is not None
    callspec = getattr(request.node, "callspec", None)
    item = callspec.params.get("plan_item") if callspec is not None else None
    marker = request.node.get_closest_marker("family")
    family = marker.args[0] if marker else "other"
    clause = item.clause if item is not None else ""
    progress = request.config.pluginmanager.get_plugin(PROGRESS_PLUGIN)
    recorder = Recorder(
        rig.store,
        rig.run.run_id,
        rig.options.decision_rule,
        request.node.nodeid,
        family,
        clause,
        rig.completed,
        on_record=progress.measured if progress is not None else None,
    )
    yield recorder
    request.node.user_properties.extend(recorder.properties())
