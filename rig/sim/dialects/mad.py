"""ZERA "MAD" per-position error calculator (WebSAM STM), XML documents over TCP, one per line:
an implementation of its own from ZeraGmbH/SourceMock @5d16c0a3,
Provider/ZeraDevices/Server/ErrorCalculator/STM/*.cs (the client WebSAM uses with the unit;
instruments.md 2.4). docs/dialects.md 3a lists the requests.

A request is `<KMA_XML_0_01><kmaContainer>...</kmaContainer></KMA_XML_0_01>`; the reply is one
such document with `jobDetails/jobResult` and `<...Res>/cmdResCode` (`OK` when carried out).
Not public [L]: the codes of a refusal (here `ERROR`), whether the unit answers on one line
(here: yes), what `src-ref-2` is cabled to (here: the reference's reactive output).
"""

from __future__ import annotations

import functools
import itertools
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from rig.sim.dialects.base import ON_LEDS, Cabling, Dialect
from rig.sim.reference import EcStatus
from rig.sim.world import WorldError

#: evaluationSrc names the unit accepts (SourceMock _supportedMeterConnections).
INPUTS = frozenset(
    {
        "src-intern-1",
        "src-intern-2",
        "src-extern-1",
        "src-extern-2",
        "src-extern-bnc",
        "src-extern-bnc-10",
        "src-extern-bnc-100",
        "src-extern-bnc-1000",
        "src-com-server-1-in",
        "src-com-server-1-out",
        "src-com-server-2-in",
        "src-com-server-2-out",
        "src-nc",
        "src-reset-key",
        "src-software",
        *(f"src-s0-{k}" for k in range(1, 13)),
    }
)
#: Reference inputs and the reference standard's output (by power type) cabled to them [L].
REFERENCES = {"src-ref-1": "P", "src-ref-2": "Q"}
MAX_COUNTS = 2**32 - 1
RUNNING = (EcStatus.WAITING, EcStatus.RUNNING)


def _xml(tag: str, *parts: str) -> str:
    """`<tag>parts</tag>` (`<tag />` when empty). Replies are written as text, the parts already
    escaped: ElementTree's writer was most of a simulated MAD's time per request."""
    body = "".join(parts)
    return f"<{tag}>{body}</{tag}>" if body else f"<{tag} />"


@functools.lru_cache(maxsize=256)
def _request(line: str) -> ET.Element | None:
    """The request document of `line` (None: not XML), read only: the same line gives the same
    object. A bench's MADs get the same start for a point and, their job numbers counting
    alike, the same polls, so a round of requests is parsed about once (bench_sim: parsing was
    a third of a simulated MAD's time per request)."""
    try:
        return ET.fromstring(line)
    except ET.ParseError:
        return None


@functools.lru_cache(maxsize=256)
def _start(req: ET.Element) -> tuple[str, str, int, int] | None:
    """evaluationSrc, runMode, metrologicalCounts, referenceCounts of a `runErrorMeasureReq`
    (a request `_request` gave: read only, so read once); None unless the counts are numbers
    in 1..2^32-1 and the mode one of oneShot / repetition."""
    fct = req.find("fctErrorMeasurement")
    if fct is None:
        return None
    try:
        n_dut = int(fct.findtext("metrologicalCounts", ""))
        n_ref = int(fct.findtext("referenceCounts", ""))
    except ValueError:
        return None
    mode = fct.findtext("runMode", "")
    if mode not in ("oneShot", "repetition") or not (
        1 <= n_dut <= MAX_COUNTS and 1 <= n_ref <= MAX_COUNTS
    ):
        return None
    return fct.findtext("evaluationSrc", ""), mode, n_dut, n_ref


def _text(tag: str, value: object) -> str:
    return _xml(tag, escape(str(value)))


def _document(*parts: str) -> str:
    return _xml("KMA_XML_0_01", _xml("kmaContainer", *parts))


class ZeraMad(Dialect):
    terminator = "\n"
    roles = ("error_calculator",)
    transport = "tcp"

    def __init__(self, world) -> None:
        super().__init__(world)
        self.cabling = Cabling("the MAD")  # evaluationSrc -> the meter and output it sees
        self.place: int | None = None
        self.source: str | None = None
        self.reference = "src-ref-1"
        self.job: str | None = None
        self.job_position: int | None = None
        self.job_counts: tuple[int, int] = (0, 0)  # (metrologicalCounts, referenceCounts)
        self.results_at_start = 0
        self._ids = itertools.count(1)

    def wire(self, position: int, pulse_input: str | None, output: str = ON_LEDS) -> str:
        """Cable meter output `output` of position `position` (default: a scanning head on its
        LEDs) to `pulse_input` (default src-intern-1). A MAD measures one place; its several
        inputs may all be cabled to that place's meter."""
        pulse_input = pulse_input or "src-intern-1"
        if pulse_input not in INPUTS:
            raise ValueError(f"a MAD has no input {pulse_input!r}")
        if any(p != position for p in self.cabling.wired.values()):
            raise ValueError("a MAD measures one place")
        self.cabling.plug(pulse_input, position, output)
        return pulse_input

    def dispatch(self, line: str) -> list[str]:
        if not line.strip():
            return []  # an empty keep-alive (MadTcpConnection.cs)
        request = _request(line)
        container = None if request is None else request.find("kmaContainer")
        if request is None or request.tag != "KMA_XML_0_01" or container is None:
            return [self._reply(False, None)]
        children = {child.tag: child for child in reversed(container)}  # the first of a tag
        try:
            for tag, handler in (
                ("bindErrorCalculatorsReq", self._bind),
                ("runErrorMeasureReq", self._run),
                ("serverVerReq", self._version),
                ("jobDetails", self._job),
            ):
                req = children.get(tag)
                if req is not None:
                    return [handler(req)]
        except (ValueError, WorldError):
            pass
        return [self._reply(False, None)]

    def internal_error(self, line: str, error: Exception) -> list[str]:
        return [self._reply(False, None)]

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def _reply(ok: bool, res_tag: str | None, job: str | None = None) -> str:
        """A reply with no values (the same for every unit: written once per job number)."""
        result = "OK" if ok else "ERROR"
        details = _xml("jobDetails", _text("jobResult", result),
                       _text("jobId", job) if job is not None else "")
        res = _xml(res_tag, _text("cmdResCode", result)) if res_tag is not None else ""
        return _document(details, res)

    def _bind(self, req: ET.Element) -> str:
        ec = req.find("fctErrorCalculators/errorCalculator")
        place = req.findtext("envSettings/placeId", "")
        source = ec.findtext("evaluationSrc", "") if ec is not None else ""
        reference = ec.findtext("referenceSrc", "") if ec is not None else ""
        mode = ec.findtext("runMode", "") if ec is not None else ""
        if not place.isdigit() or source not in INPUTS or reference not in REFERENCES:
            return self._reply(False, "bindErrorCalculatorsRes")
        if mode != "errorMeasure":
            return self._reply(False, "bindErrorCalculatorsRes")
        self.place, self.source, self.reference = int(place), source, reference
        return self._reply(True, "bindErrorCalculatorsRes")

    def _run(self, req: ET.Element) -> str:
        start = _start(req)
        if start is None or self.source is None:
            return self._reply(False, "runErrorMeasureRes")
        source, mode, n_dut, n_ref = start
        if source != self.source:
            return self._reply(False, "runErrorMeasureRes")
        self._abort()
        w = self.world
        self.job = f"job-{next(self._ids)}"
        self.job_counts = (n_dut, n_ref)
        self.job_position = self.cabling.wired.get(source)
        if self.job_position is not None:
            engine = w.ec(self.job_position)
            engine.input_position = self.job_position
            power = REFERENCES[self.reference]
            # The gate: n_dut meter pulses; the unit's constant ratio is n_ref / n_dut.
            constant = w.reference.constant
            engine.configure(
                dut_constant=n_dut * constant / n_ref if n_ref else constant,
                mrate=n_dut,
                output=self.cabling.counted(source, power),
                continuous=mode == "repetition",
            )
            self.results_at_start = len(engine.results)
            w.start_ec(self.job_position, w.reference.output(power), constant)
        return self._reply(True, "runErrorMeasureRes", self.job)

    def _abort(self) -> None:
        position = self.job_position if self.job is not None else None
        # A job whose gate has closed has nothing to stop (and a new job aborts the last).
        if position is not None and self.world.ec(position).status in RUNNING:
            self.world.abort_ec(position)
        self.job = None

    def _job(self, details: ET.Element) -> str:
        job = details.findtext("jobId", "").strip()
        if not job or job != self.job:
            return self._reply(False, "runErrorMeasureRes")
        if details.findtext("jobAbort", "").strip() == "true":
            self._abort()
            return self._reply(True, "runErrorMeasureRes", job)
        status, seen, results = "running", 0, ""
        if self.job_position is not None:
            engine = self.world.ec(self.job_position)
            new = engine.results[self.results_at_start :]
            if engine.status is EcStatus.READY:
                status = "closed"
            # Meter pulses seen since the start, the gate's opening edge included [L].
            seen = engine.pulses_seen + 1 if engine.status is EcStatus.RUNNING else 0
            if new:
                last = new[-1]
                # lastDeviationRaw: error % x 10^4 (SourceMock JobStatus.cs ErrorValue / 10000),
                # against the referenceCounts the job was given.
                target = self.job_counts[1]
                counted = last.ref_counts
                raw = round((target - counted) / counted * 100 * 1e4) if counted else None
                results = (
                    _text("lastDeviationRaw", "" if raw is None else raw)
                    + _text("lastSeenRefCounts", last.ref_counts)
                    + _text("lastSeenMeterCounts", last.dut_pulses)
                )
        return _document(
            _xml("jobDetails", _text("jobResult", "OK"), _text("jobId", job),
                 _text("jobStatusRes", status)),
            _xml("runErrorMeasureRes", _text("cmdResCode", "OK"),
                 _xml("errorValues", results, _text("actSeenCounts", seen))),
        )

    def _version(self, req: ET.Element) -> str:
        return _document(
            _xml("jobDetails", _text("jobResult", "OK")),
            _xml("serverVerRes", _text("cmdResCode", "OK"), _text("hwZeraName", "MAD1 (simulated)"),
                 _text("versionValue", "SIM-1.0")),
        )
