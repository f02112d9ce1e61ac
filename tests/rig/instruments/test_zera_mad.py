"""Transcript tests of the ZERA MAD error-calculator driver. The requests and reply elements are
those of WebSAM's client of the unit (ZeraGmbH/SourceMock @5d16c0a3,
Provider/ZeraDevices/Server/ErrorCalculator/STM/*.cs); the replies are built to the paths it
reads (jobDetails/jobResult, <...Res>/cmdResCode, jobStatusRes, errorValues/*)."""

import pytest

from rig.instruments.errors import InstrumentError
from rig.instruments.roles import ECResult, ECState, ErrorCalculator, Quantity
from rig.instruments.testing import Fail, expected_protocol
from rig.instruments.zera_mad import ZeraMad, parse_reply


def doc(inner: str) -> str:
    return f"<KMA_XML_0_01><kmaContainer>{inner}</kmaContainer></KMA_XML_0_01>"


def ok(res: str, extra: str = "", job: str = "") -> str:
    job_id = f"<jobId>{job}</jobId>" if job else ""
    return doc(f"<jobDetails><jobResult>OK</jobResult>{job_id}</jobDetails>"
               f"<{res}><cmdResCode>OK</cmdResCode>{extra}</{res}>")


BIND = doc(
    "<kmaVersion>01</kmaVersion><bindErrorCalculatorsReq><envSettings><placeId>07</placeId>"
    "</envSettings><fctErrorCalculators><errorCalculator><evaluationSrc>src-s0-3</evaluationSrc>"
    "<referenceSrc>src-ref-1</referenceSrc><runMode>errorMeasure</runMode></errorCalculator>"
    "</fctErrorCalculators></bindErrorCalculatorsReq>"
)
# 20 DUT pulses at 1000 imp/kWh against 5e8 imp/kWh: floor(20 * 5e8 / 1000) = 10_000_000.
START = doc(
    "<kmaVersion>01</kmaVersion><runErrorMeasureReq><fctErrorMeasurement>"
    "<evaluationSrc>src-s0-3</evaluationSrc><runMode>oneShot</runMode>"
    "<metrologicalCounts>20</metrologicalCounts><referenceCounts>10000000</referenceCounts>"
    "<offsetPPM>0</offsetPPM><upperTolerancePPM>999900</upperTolerancePPM>"
    "<lowerTolerancePPM>-999900</lowerTolerancePPM></fctErrorMeasurement></runErrorMeasureReq>"
)
POLL = doc("<jobDetails><jobId>j1</jobId></jobDetails>")


def status(state: str, values: str) -> str:
    return doc(f"<jobDetails><jobResult>OK</jobResult><jobId>j1</jobId><jobStatusRes>{state}"
               f"</jobStatusRes></jobDetails><runErrorMeasureRes><cmdResCode>OK</cmdResCode>"
               f"<errorValues>{values}</errorValues></runErrorMeasureRes>")


class Reference:
    def reference_constant(self) -> float:
        return 5e8


def test_identify_bind_start_poll_and_result():
    transcript = [
        (doc("<kmaVersion>01</kmaVersion><serverVerReq />"),
         ok("serverVerRes", "<hwZeraName>MAD1</hwZeraName><versionValue>1.2</versionValue>")),
        (BIND, ok("bindErrorCalculatorsRes")),
        (START, ok("runErrorMeasureRes", job="j1")),
        (POLL, status("running", "<actSeenCounts>0</actSeenCounts>")),
        (POLL, status("running", "<actSeenCounts>5</actSeenCounts>")),
        # lastDeviationRaw is the error in % x 10^4 (JobStatus.cs: ErrorValue = raw / 10000).
        (POLL, status("closed", "<lastDeviationRaw>1250</lastDeviationRaw>"
                                "<lastSeenRefCounts>9987516</lastSeenRefCounts>"
                                "<lastSeenMeterCounts>20</lastSeenMeterCounts>")),
        (START, ok("runErrorMeasureRes", job="j1")),  # the same point again: no new bind
        (doc("<jobDetails><jobId>j1</jobId><jobAbort>true</jobAbort></jobDetails>"),
         ok("runErrorMeasureRes")),
    ]
    with expected_protocol(ZeraMad, transcript, name="mad7") as mad:
        assert mad.identify() == "MAD1 1.2"
        mad.attach_reference(Reference())
        ec = mad.error_calculator(7, "src-s0-3", 1)
        assert isinstance(ec, ErrorCalculator)
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()
        assert ec.state() is ECState.WAITING
        assert ec.status().progress == 20.0  # 5 seen, the first opened the gate: 4 of 20
        assert ec.state() is ECState.READY
        assert ec.result() == ECResult(0.125, 9987516)  # from that poll: no further exchange
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()
        ec.abort()
        assert ec.state() is ECState.ABORTED


def test_a_refusal_names_the_request():
    refused = doc("<jobDetails><jobResult>OK</jobResult></jobDetails>"
                  "<bindErrorCalculatorsRes><cmdResCode>ERROR</cmdResCode>"
                  "</bindErrorCalculatorsRes>")
    with expected_protocol(ZeraMad, [(BIND, refused)]) as mad:
        mad.attach_reference(Reference())
        ec = mad.error_calculator(7, "src-s0-3", 1)
        with pytest.raises(InstrumentError, match=r"bindErrorCalculatorsReq.*cmdResCode 'ERROR'"):
            ec.configure(1000, 20, Quantity.ACTIVE)


def test_one_place_per_unit_and_known_inputs_only():
    with expected_protocol(ZeraMad, []) as mad:
        mad.error_calculator(3, "src-intern-1", 1)
        with pytest.raises(InstrumentError, match="already serves position 3"):
            mad.error_calculator(4, "src-intern-1", 1)
        with pytest.raises(InstrumentError, match="input 'fi0'"):
            mad.error_calculator(3, "fi0", 1)


def test_a_gate_without_reference_pulses_is_ready_without_an_error():
    # No load (creep test): the gate closes on meter pulses with no reference count, so there
    # is no deviation to report.
    transcript = [
        (BIND, ok("bindErrorCalculatorsRes")),
        (START, ok("runErrorMeasureRes", job="j1")),
        (POLL, status("closed", "<lastSeenRefCounts>0</lastSeenRefCounts>")),
    ]
    with expected_protocol(ZeraMad, transcript) as mad:
        mad.attach_reference(Reference())
        ec = mad.error_calculator(7, "src-s0-3", 1)
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()
        status_ = ec.status()
        assert (status_.state, status_.error, status_.reference_counts) == (ECState.READY, None, 0)
        with pytest.raises(InstrumentError, match="no result"):
            ec.result()


ABORT = doc("<jobDetails><jobId>j1</jobId><jobAbort>true</jobAbort></jobDetails>")
REFUSED_START = doc("<jobDetails><jobResult>OK</jobResult></jobDetails><runErrorMeasureRes>"
                    "<cmdResCode>ERROR</cmdResCode></runErrorMeasureRes>")


def test_the_binding_is_sent_again_after_an_abort_a_failure_or_a_new_connection():
    # SourceMock says nothing of a binding outliving an abort, a refusal or a reconnection, and
    # a lab's unit may have been rebound by hand meanwhile: the driver binds again after each.
    transcript = [
        (BIND, ok("bindErrorCalculatorsRes")),
        (START, ok("runErrorMeasureRes", job="j1")),
        (ABORT, ok("runErrorMeasureRes")),
        (BIND, ok("bindErrorCalculatorsRes")),  # after the abort
        (START, REFUSED_START),
        (BIND, ok("bindErrorCalculatorsRes")),  # after the refusal
        (START, ok("runErrorMeasureRes", job="j1")),
        (POLL, Fail(TimeoutError("no reply"))),  # no retries: the poll fails
        (BIND, ok("bindErrorCalculatorsRes")),  # after the time-out (a new connection)
        (START, ok("runErrorMeasureRes", job="j1")),
        (POLL, status("running", "<actSeenCounts>0</actSeenCounts>")),
        (START, ok("runErrorMeasureRes", job="j1")),  # the same settings, nothing failed
    ]
    with expected_protocol(ZeraMad, transcript, retries=0) as mad:
        mad.attach_reference(Reference())
        ec = mad.error_calculator(7, "src-s0-3", 1)
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()
        ec.abort()
        ec.configure(1000, 20, Quantity.ACTIVE)
        with pytest.raises(InstrumentError, match=r"runErrorMeasureReq.*cmdResCode 'ERROR'"):
            ec.start()
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()
        with pytest.raises(InstrumentError, match="TimeoutError"):
            ec.state()
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()
        assert ec.state() is ECState.WAITING
        ec.configure(1000, 20, Quantity.ACTIVE)
        ec.start()


def test_a_reply_text_is_parsed_once_and_a_reply_that_is_not_xml_fails_each_time():
    # A group's units answer a start with the same document: one parse serves them all.
    reply = ok("runErrorMeasureRes", job="j1")
    assert parse_reply(reply) is parse_reply(reply)
    assert parse_reply(ok("runErrorMeasureRes", job="j2")) is not parse_reply(reply)
    for _ in range(2):  # a failed parse is not remembered
        with expected_protocol(ZeraMad, [(BIND, "<KMA_XML_0_01><kmaContainer>")]) as mad:
            mad.attach_reference(Reference())
            ec = mad.error_calculator(7, "src-s0-3", 1)
            with pytest.raises(InstrumentError, match="reply is not XML"):
                ec.configure(1000, 20, Quantity.ACTIVE)
