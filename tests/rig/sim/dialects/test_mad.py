"""The simulated ZERA MAD answers as WebSAM's client of the unit reads it (ZeraGmbH/SourceMock
@5d16c0a3, Provider/ZeraDevices/Server/ErrorCalculator/STM/*.cs; docs/dialects.md 3a): each unit
keeps its own binding and job, whatever another unit was sent; what is not a KMA document is
refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rig.sim.dialects.mad import ZeraMad
from rig.sim.world import World, WorldConfig


def doc(inner: str) -> str:
    return f"<KMA_XML_0_01><kmaContainer>{inner}</kmaContainer></KMA_XML_0_01>"


BIND = doc(
    "<kmaVersion>01</kmaVersion><bindErrorCalculatorsReq><envSettings><placeId>02</placeId>"
    "</envSettings><fctErrorCalculators><errorCalculator><evaluationSrc>src-intern-1"
    "</evaluationSrc><referenceSrc>src-ref-1</referenceSrc><runMode>errorMeasure</runMode>"
    "</errorCalculator></fctErrorCalculators></bindErrorCalculatorsReq>"
)
START = doc(
    "<kmaVersion>01</kmaVersion><runErrorMeasureReq><fctErrorMeasurement>"
    "<evaluationSrc>src-intern-1</evaluationSrc><runMode>oneShot</runMode>"
    "<metrologicalCounts>20</metrologicalCounts><referenceCounts>10000000</referenceCounts>"
    "<offsetPPM>0</offsetPPM><upperTolerancePPM>999900</upperTolerancePPM>"
    "<lowerTolerancePPM>-999900</lowerTolerancePPM></fctErrorMeasurement></runErrorMeasureReq>"
)


def poll(job: str, abort: bool = False) -> str:
    return doc(f"<jobDetails><jobId>{job}</jobId>"
               f"{'<jobAbort>true</jobAbort>' if abort else ''}</jobDetails>")


def answer(unit: ZeraMad, request: str) -> dict[str, str]:
    """The reply's leaves by tag (jobResult, cmdResCode, jobId, jobStatusRes, ...)."""
    (reply,) = unit.handle(request)
    return {e.tag: (e.text or "") for e in ET.fromstring(reply).iter() if len(e) == 0}


def test_units_given_the_same_requests_keep_their_own_binding_and_job() -> None:
    world = World(WorldConfig(), [])
    first, second = ZeraMad(world), ZeraMad(world)
    # Not bound yet: the simulated unit refuses a start (what the real one does is [L]).
    assert answer(first, START)["cmdResCode"] == "ERROR"
    assert answer(first, BIND)["cmdResCode"] == "OK"
    assert answer(second, START)["cmdResCode"] == "ERROR"  # the first's binding is its own
    assert answer(second, BIND)["cmdResCode"] == "OK"
    assert answer(first, START)["jobId"] == answer(second, START)["jobId"] == "job-1"
    assert answer(first, poll("job-1", abort=True))["cmdResCode"] == "OK"
    assert answer(first, poll("job-1"))["cmdResCode"] == "ERROR"  # aborted: no such job now
    assert answer(second, poll("job-1"))["jobStatusRes"] == "running"


def test_what_is_not_a_kma_document_is_refused_each_time() -> None:
    unit = ZeraMad(World(WorldConfig(), []))
    for line in ("<KMA_XML_0_01><kmaContainer>", "<other><kmaContainer /></other>", "x") * 2:
        leaves = answer(unit, line)
        assert leaves["jobResult"] == "ERROR", line


def test_a_start_out_of_its_catalogs_is_refused_each_time() -> None:
    # runMode oneShot | repetition, counts 1..2^32-1 (StartErrorMeasurement.cs; the width [L]).
    unit = ZeraMad(World(WorldConfig(), []))
    assert answer(unit, BIND)["cmdResCode"] == "OK"
    for bad in (START.replace("oneShot", "twice"),
                START.replace("<metrologicalCounts>20<", "<metrologicalCounts>0<"),
                START.replace("<referenceCounts>10000000<", "<referenceCounts>4294967296<"),
                START.replace("<referenceCounts>10000000<", "<referenceCounts>ten<"),
                START.replace("src-intern-1", "src-intern-2")) * 2:  # not the input bound
        assert answer(unit, bad)["cmdResCode"] == "ERROR", bad
    assert answer(unit, START)["jobId"] == "job-1"
