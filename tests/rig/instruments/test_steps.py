"""Operations as steps: one instrument alone, and several in one pass (every request out before
any reply is read), on ZERA MAD transcripts (the request and reply forms of test_zera_mad)."""

from __future__ import annotations

import pytest

from rig.instruments.base import Instrument
from rig.instruments.errors import InstrumentError
from rig.instruments.roles import ECState, Quantity
from rig.instruments.sharedquery import SharedQuery
from rig.instruments.steps import Exchange, run, run_together
from rig.instruments.testing import Fail, FailWrite, TranscriptAdapter
from rig.instruments.zera_mad import ZeraMad
from tests.rig.instruments.test_zera_mad import POLL, START, doc, ok, status

BIND = doc(
    "<kmaVersion>01</kmaVersion><bindErrorCalculatorsReq><envSettings><placeId>{p:02d}</placeId>"
    "</envSettings><fctErrorCalculators><errorCalculator><evaluationSrc>src-s0-3</evaluationSrc>"
    "<referenceSrc>src-ref-1</referenceSrc><runMode>errorMeasure</runMode></errorCalculator>"
    "</fctErrorCalculators></bindErrorCalculatorsReq>"
)
RUNNING = status("running", "<actSeenCounts>0</actSeenCounts>")


class Logged(TranscriptAdapter):
    """A transcript adapter that notes each write and read in a log shared by instruments."""

    def __init__(self, name: str, transcript, log: list[str]) -> None:
        super().__init__(transcript)
        self.name, self.log, self.resets = name, log, 0

    def write(self, line: str) -> None:
        self.log.append(f"write {self.name}")
        super().write(line)

    def read(self) -> str:
        self.log.append(f"read {self.name}")
        return super().read()

    def reset(self) -> None:
        self.resets += 1
        self.pending = []


def mads(transcripts: dict[int, list], log: list[str], constant: SharedQuery[float]):
    """A MAD per position on a logged transcript, its calculator on src-s0-3, counting a
    reference of 5e8 imp/kWh (the shared `constant`)."""
    out = {}
    for p, transcript in transcripts.items():
        mad = ZeraMad(Logged(f"mad{p}", transcript, log), name=f"mad{p}", retries=1)
        mad.attach_reference(None, constant)  # type: ignore[arg-type]
        out[p] = mad.error_calculator(p, "src-s0-3", 1)
    return out


def test_every_request_is_sent_before_any_reply_is_read_and_the_constant_asked_once() -> None:
    log: list[str] = []
    asked: list[int] = []
    constant = SharedQuery(lambda: asked.append(1) or 5e8)
    ecs = mads({p: [(BIND.format(p=p), ok("bindErrorCalculatorsRes")),
                    (START, ok("runErrorMeasureRes", job="j1")), (POLL, RUNNING)]
                for p in (2, 3, 4)}, log, constant)
    run_together([(ec.parent, ec.configure_steps(1000, 20, Quantity.ACTIVE))
                  for ec in ecs.values()], lambda: log.append("meanwhile"))
    assert asked == [1]  # one reference-constant query for the three units
    assert log == ["write mad2", "write mad3", "write mad4", "meanwhile",
                   "read mad2", "read mad3", "read mad4"]
    log.clear()
    run_together([(ec.parent, ec.start_steps()) for ec in ecs.values()])
    states = run_together([(ec.parent, ec.state_steps()) for ec in ecs.values()])
    assert states == [ECState.WAITING] * 3
    assert log == ["write mad2", "write mad3", "write mad4", "read mad2", "read mad3",
                   "read mad4"] * 2
    for ec in ecs.values():
        ec.parent.adapter.assert_done()


def test_a_refusal_is_raised_once_every_reply_is_read() -> None:
    log: list[str] = []
    refused = doc("<jobDetails><jobResult>OK</jobResult></jobDetails>"
                  "<bindErrorCalculatorsRes><cmdResCode>ERROR</cmdResCode>"
                  "</bindErrorCalculatorsRes>")
    ecs = mads({2: [(BIND.format(p=2), refused)],
                3: [(BIND.format(p=3), ok("bindErrorCalculatorsRes"))]}, log,
               SharedQuery(lambda: 5e8))
    refusal = r"mad2: command 'bindErrorCalculatorsReq' failed: refused.*'ERROR'"
    with pytest.raises(InstrumentError, match=refusal):
        run_together([(ec.parent, ec.configure_steps(1000, 20, Quantity.ACTIVE))
                      for ec in ecs.values()])
    for ec in ecs.values():
        ec.parent.adapter.assert_done()  # mad3's reply was read too
    assert not ecs[2].parent.lock._is_owned() and not ecs[3].parent.lock._is_owned()


def test_a_transport_failure_is_retried_on_that_instrument_alone() -> None:
    log: list[str] = []
    ecs = mads({2: [(BIND.format(p=2), ok("bindErrorCalculatorsRes")),
                    (START, ok("runErrorMeasureRes", job="j1")),
                    (POLL, FailWrite(ConnectionResetError("reset"))), (POLL, RUNNING)],
                3: [(BIND.format(p=3), ok("bindErrorCalculatorsRes")),
                    (START, ok("runErrorMeasureRes", job="j1")),
                    (POLL, Fail(TimeoutError("no reply"))), (POLL, RUNNING)]},
               log, SharedQuery(lambda: 5e8))
    for ec in ecs.values():
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()
    states = run_together([(ec.parent, ec.state_steps()) for ec in ecs.values()])
    assert states == [ECState.WAITING, ECState.WAITING]
    assert [ec.parent.adapter.resets for ec in ecs.values()] == [1, 1]
    for ec in ecs.values():
        ec.parent.adapter.assert_done()


def test_a_start_is_not_repeated_after_a_transport_failure() -> None:
    ecs = mads({2: [(BIND.format(p=2), ok("bindErrorCalculatorsRes")),
                    (START, Fail(TimeoutError("no reply")))]}, [], SharedQuery(lambda: 5e8))
    ecs[2].configure(1000, 20, Quantity.ACTIVE)
    with pytest.raises(InstrumentError, match=r"runErrorMeasureReq.*TimeoutError.*1 attempt"):
        run_together([(ecs[2].parent, ecs[2].start_steps())])


def test_an_interrupt_leaves_no_stale_reply_and_no_lock_held() -> None:
    log: list[str] = []
    ecs = mads({p: [(BIND.format(p=p), ok("bindErrorCalculatorsRes"))] for p in (2, 3)}, log,
               SharedQuery(lambda: 5e8))

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_together([(ec.parent, ec.configure_steps(1000, 20, Quantity.ACTIVE))
                      for ec in ecs.values()], interrupted)
    # Sent, never read: each connection is renewed, so the next request reads its own reply.
    assert [ec.parent.adapter.resets for ec in ecs.values()] == [1, 1]
    assert not any(ec.parent.lock._is_owned() for ec in ecs.values())


def test_run_alone_answers_a_shared_query_and_exchanges_in_order() -> None:
    ecs = mads({2: [(BIND.format(p=2), ok("bindErrorCalculatorsRes")),
                    (START, ok("runErrorMeasureRes", job="j1")), (POLL, RUNNING)]}, [],
               SharedQuery(lambda: 5e8))
    ec = ecs[2]
    run(ec.parent, ec.configure_steps(1000, 20, Quantity.ACTIVE))
    run(ec.parent, ec.start_steps())
    assert run(ec.parent, ec.state_steps()) is ECState.WAITING
    ec.parent.adapter.assert_done()


def test_an_operation_of_several_exchanges_sends_each_before_reading_it() -> None:
    def two(first: str, second: str):
        a = (yield Exchange(first, 1))[0]
        b = (yield Exchange(second, 2))
        return [a, *b]

    log: list[str] = []
    one = Instrument(Logged("a", [("A?", "1"), ("B?", ["2", "3"])], log), name="a")
    other = Instrument(Logged("b", [("C?", "4"), ("D?", ["5", "6"])], log), name="b")
    assert run_together([(one, two("A?", "B?")), (other, two("C?", "D?"))]) == [
        ["1", "2", "3"], ["4", "5", "6"]]
    assert log == ["write a", "write b", "read a", "write a", "read a", "read a", "read b",
                   "write b", "read b", "read b"]
    one.adapter.assert_done()
    other.adapter.assert_done()
