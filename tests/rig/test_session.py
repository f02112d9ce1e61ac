"""RigSession pieces that need no bench: the programming state of several meters."""

from __future__ import annotations

import pytest

from meter.iec62056_21.timing import Timing
from rig.bench.config import Position
from rig.hands import HandsError, OperatorHands
from rig.session import MeterPosition, RigSession, SessionError, SessionOptions


def positions(*numbers: int) -> list[MeterPosition]:
    return [MeterPosition(Position.model_construct(id=n), Timing()) for n in numbers]


def test_lab_bench_asks_once_for_all_meters_and_again_to_leave_even_on_failure() -> None:
    prompts: list[str] = []

    def read(text: str) -> str:
        prompts.append(text)
        return ""

    session = RigSession(SessionOptions(bench="lab.yaml"), hands=OperatorHands(read))
    with pytest.raises(RuntimeError, match="write refused"), session.programming(
        *positions(1, 2, 3)
    ):
        raise RuntimeError("write refused")
    assert len(prompts) == 2
    assert prompts[0].startswith("Positions 1, 2, 3 (each meter): open the seal and hold")
    assert prompts[1].startswith("Positions 1, 2, 3 (each meter): press the reset button")
    session.enter_programming(*positions(4))
    assert prompts[2].startswith("Position 4: open the seal")


def test_a_lab_bench_without_hands_asks_the_operator_and_without_terminal_says_so() -> None:
    session = RigSession(SessionOptions(bench="lab.yaml"))
    with pytest.raises(HandsError, match="operator action needed but no terminal"):
        session.enter_programming(*positions(1))
    session.operator_prompt = lambda text: "no"
    with pytest.raises(HandsError, match="the operator could not do it"):
        session.ask_operator("Close the seal")


def _stored_run(runs_dir, plan, version, bench_text, positions=1):
    from reports.store import ResultsStore

    with ResultsStore.in_runs_dir(runs_dir) as store:
        return store.create_run(plan_name=plan, plan_version=version, operator="op",
                                software_version="0", bench_file=bench_text,
                                environment={"positions": positions}).run_id


@pytest.mark.parametrize(
    ("plan", "version", "bench_text", "positions", "refusal"),
    [
        ("iec60687-class0.5S", None, None, 1, "it ran plan iec60687-class0.5S"),
        ("smoke", "0.9", None, 1, "it ran plan smoke 0.9, not smoke 1.0"),
        ("smoke", None, "lab: other bench\n", 1, "with other content than"),
        ("smoke", None, None, 3, "it had 3 simulated position(s), not 1"),
    ],
)
def test_resume_refuses_another_plan_or_bench_before_anything_starts(
    tmp_path, plan, version, bench_text, positions, refusal
) -> None:
    from rig.plan import load_plan
    from rig.session import SIM_BENCH_FILE

    smoke = load_plan("smoke")
    text = SIM_BENCH_FILE.read_text(encoding="utf-8") if bench_text is None else bench_text
    run_id = _stored_run(tmp_path, plan, version or smoke.version, text, positions)
    session = RigSession(SessionOptions(plan="smoke", runs_dir=tmp_path, resume=run_id))
    with pytest.raises(SessionError, match="refused") as exc:
        session.start()
    assert refusal in str(exc.value) and "\n" not in str(exc.value)
    assert session.sim is None and session.bench is None  # nothing was started


def test_resume_of_the_same_plan_and_bench_file_is_accepted_by_the_check(tmp_path) -> None:
    from rig.plan import load_plan
    from rig.session import SIM_BENCH_FILE

    smoke = load_plan("smoke")
    text = SIM_BENCH_FILE.read_text(encoding="utf-8")
    run_id = _stored_run(tmp_path, "smoke", smoke.version, text)
    session = RigSession(SessionOptions(plan="smoke", runs_dir=tmp_path, resume=run_id))
    from reports.store import ResultsStore

    with ResultsStore.in_runs_dir(tmp_path) as store:
        session.store = store
        session._check_resume(run_id, SIM_BENCH_FILE, text)  # raises nothing
