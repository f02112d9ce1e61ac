"""ZERA "MAD" per-position error calculator (WebSAM STM), XML over TCP: the separate
error-calculator instrument of a multi-position bench, one per position.

Source: ZeraGmbH/SourceMock @5d16c0a3, Provider/ZeraDevices/Server/ErrorCalculator/STM/ ("sm:"),
WebSAM's own client of the unit (instruments.md 2.4):
- A request is one UTF-8 XML document `<KMA_XML_0_01><kmaContainer>...` followed by `\\n`; one
  request is outstanding at a time; a reply is one XML document (sm:MadTcpConnection.cs
  ExecuteAsync). Every reply must carry `kmaContainer/jobDetails/jobResult` = `OK` and
  `kmaContainer/<reply element>/cmdResCode` = `OK`, else the request failed (same place).
- Bind the calculator of a place to its inputs: `bindErrorCalculatorsReq` with `placeId`
  (2 digits), `evaluationSrc` (the meter input, e.g. `src-intern-1`, `src-s0-1`),
  `referenceSrc` `src-ref-1`, `runMode` `errorMeasure` (sm:Mad1ErrorCalculator.
  ConfigureErrorMeasurement.cs) -> `bindErrorCalculatorsRes`.
- Start: `runErrorMeasureReq` with `evaluationSrc`, `runMode` `oneShot`|`repetition`,
  `metrologicalCounts` (DUT pulses), `referenceCounts` (expected reference pulses), offset and
  tolerances in ppm (sm:...StartErrorMeasurement.cs) -> `runErrorMeasureRes` and a
  `jobDetails/jobId`.
- Poll: `jobDetails/jobId` -> `jobDetails/jobStatusRes` (`running` | `closed`) and
  `runErrorMeasureRes/errorValues` with `lastDeviationRaw` (error % x 10^4), `lastSeenRefCounts`,
  `lastSeenMeterCounts`, `actSeenCounts` (DUT pulses so far) (sm:...JobStatus.cs).
- Abort: `jobDetails/jobId` with `jobAbort` `true` (sm:...AbortJob.cs).
- Version: `serverVerReq` -> `serverVerRes/hwZeraName`, `versionValue` (sm:...Version.cs).
Not public [L]: whether a reply is one line (the driver reads one line per request), the
reference input for reactive energy (`src-ref-2` here: the reference's second frequency output,
cabled by the lab), and the codes of a refusal (anything but `OK`).
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from typing import Any, ClassVar
from xml.sax.saxutils import escape

from rig.instruments.base import Instrument
from rig.instruments.errors import InstrumentError
from rig.instruments.roles import ECResult, ECState, ECStatus, Quantity, ReferenceMeter
from rig.instruments.sharedquery import SharedQuery
from rig.instruments.steps import Exchange, Steps, run

ROOT = "KMA_XML_0_01"
#: The meter inputs of a MAD (sm:...ConfigureErrorMeasurement.cs _supportedMeterConnections).
INPUTS = (
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
    *(f"src-s0-{k}" for k in range(1, 13)),
)
#: The reference standard's frequency output the MAD counts, by quantity [L: lab cabling].
REFERENCE_INPUTS = {Quantity.ACTIVE: "src-ref-1", Quantity.REACTIVE: "src-ref-2"}
MAX_COUNTS = 2**32 - 1  # [L] the counters' width is not public; ZERA's EC takes up to 2^32-1


def element(tag: str, *children: str, text: str | None = None) -> str:
    """An XML element with children (elements already written) or text. Written as text: the
    requests are small and fixed in shape, and ElementTree's writer cost more than the rest of
    an exchange (bench_sim)."""
    inner = escape(text) if text is not None else "".join(children)
    return f"<{tag}>{inner}</{tag}>" if inner else f"<{tag} />"


def leaves(tag: str, **values: object) -> str:
    """`<tag><key>value</key>...</tag>`, in the order given."""
    return element(tag, *(element(k, text=str(v)) for k, v in values.items()))


def document(*content: str) -> str:
    """One request: the KMA root with a container holding `content`, on one line."""
    return element(ROOT, element("kmaContainer", *content))


def request_document(request: str, content: str) -> str:
    """The whole request of the element `request` (`content`): job requests carry no
    kmaVersion (sm:...JobStatus.cs), every other one version 01."""
    if request == "jobDetails":
        return document(content)
    return document(element("kmaVersion", text="01"), content)


#: A poll's request around its job id (sm:...JobStatus.cs): one is written per job.
_POLL = request_document("jobDetails", leaves("jobDetails", jobId="\0")).split("\0")


def poll_document(job: str) -> str:
    """The request polling job `job`: `jobDetails/jobId`, no kmaVersion."""
    return escape(job).join(_POLL)


@functools.lru_cache(maxsize=64)
def parse_reply(reply: str) -> ET.Element:
    """The reply's document (ET.ParseError if it is not XML), read only: the same text gives
    the same object. A group's MADs answer a start with the same document (one per job number)
    and a unit repeats its replies, so most are parsed once (bench_sim: parsing was a quarter of
    the rig's CPU per MAD exchange)."""
    return ET.fromstring(reply)


def find(root: ET.Element | None, *path: str) -> ET.Element | None:
    """The element at `path` below `root`, one tag at a time: Element.find of a plain tag runs
    in C, a path with '/' in ElementPath's Python (most of a poll's parsing time, bench_sim)."""
    for tag in path:
        if root is None:
            return None
        root = root.find(tag)
    return root


def text(root: ET.Element | None, *path: str) -> str | None:
    """The text of the element at `path` ("" when it has none), None when there is none."""
    found = find(root, *path)
    return None if found is None else found.text or ""


class MadErrorCalculator:
    """The error calculator of one place (ErrorCalculator). Each operation is also offered as
    steps (`*_steps`, rig.instruments.steps), so a group of MADs is driven in one pass."""

    def __init__(self, parent: ZeraMad, position: int, pulse_input: str) -> None:
        self.parent = parent
        self.position = position
        self.pulse_input = pulse_input
        self.name = f"{parent.name}[{position:02d}]"
        self._bound: tuple[str, str] | None = None  # (evaluationSrc, referenceSrc) bound
        self._run: tuple[int, int, bool] | None = None  # (DUT pulses, target, continuous)
        self._job: str | None = None
        self._poll = ""  # the request polling `_job`
        self._start: tuple[tuple[int, int, bool] | None, str] = (None, "")  # (_run, request)
        self._last: ECStatus | None = None  # the last poll of the job
        self._aborted = False

    def configure_steps(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> Steps[None]:
        """Bind the place to its meter input and the reference output of `quantity` (only if
        that changed) and compute the expected reference counts floor(N * C_ref / C_dut)."""
        if not 1 <= pulses <= MAX_COUNTS or not meter_constant > 0:
            raise InstrumentError(
                self.name, "configure", f"pulses {pulses} / constant {meter_constant} out of range"
            )
        ref_input = REFERENCE_INPUTS[Quantity(quantity)]
        reference = yield self.parent.reference_query()
        if self._bound != (self.pulse_input, ref_input):
            self._bound = None
            yield from self.parent.request_steps(
                "bindErrorCalculatorsRes",
                "bindErrorCalculatorsReq",
                element(
                    "bindErrorCalculatorsReq",
                    leaves("envSettings", placeId=f"{self.position:02d}"),
                    element(
                        "fctErrorCalculators",
                        leaves(
                            "errorCalculator",
                            evaluationSrc=self.pulse_input,
                            referenceSrc=ref_input,
                            runMode="errorMeasure",
                        ),
                    ),
                ),
            )
            self._bound = (self.pulse_input, ref_input)
        target = math.floor(pulses * reference / meter_constant)
        if not 1 <= target <= MAX_COUNTS:
            raise InstrumentError(self.name, "configure", f"reference counts {target} out of range")
        self._run = (pulses, target, bool(continuous))

    def start_steps(self) -> Steps[None]:
        """Start a job: it opens its gate on the next meter pulse."""
        if self._run is None:
            raise InstrumentError(self.name, "start", "configure the calculator first")
        if self._start[0] != self._run:  # written once per configuration, sent every start
            pulses, target, continuous = self._run
            self._start = (self._run, request_document(
                "runErrorMeasureReq",
                element(
                    "runErrorMeasureReq",
                    leaves(
                        "fctErrorMeasurement",
                        evaluationSrc=self.pulse_input,
                        runMode="repetition" if continuous else "oneShot",
                        metrologicalCounts=pulses,
                        referenceCounts=target,
                        offsetPPM=0,
                        upperTolerancePPM=999900,
                        lowerTolerancePPM=-999900,
                    ),
                ),
            ))
        reply = yield from self.parent.exchange_steps(
            "runErrorMeasureRes", "runErrorMeasureReq", self._start[1], idempotent=False
        )
        job = (text(reply, "kmaContainer", "jobDetails", "jobId") or "").strip()
        if not job:
            raise InstrumentError(self.name, "runErrorMeasureReq", "got no job identifier")
        self._job, self._last, self._aborted = job, None, False
        self._poll = poll_document(job)

    def abort_steps(self) -> Steps[None]:
        """Abort the running job (if any)."""
        job, self._job = self._job, None
        if job is None:
            return
        self._aborted = True
        self._bound = None  # an abort may be an operator's: bind again before the next job
        yield from self.parent.request_steps(
            "runErrorMeasureRes", "jobDetails", leaves("jobDetails", jobId=job, jobAbort="true")
        )

    def status_steps(self) -> Steps[ECStatus]:
        """Poll the job: state, progress, error, expected and counted reference pulses."""
        if self._job is None:
            if self._last is not None:
                return self._last  # a closed job keeps its result
            state = ECState.ABORTED if self._aborted else ECState.IDLE
            return ECStatus(state, 0.0, None, self._run[1] if self._run else 0, 0, 0)
        reply = yield from self.parent.exchange_steps(
            "runErrorMeasureRes", "jobDetails", self._poll
        )
        assert self._run is not None
        pulses, target, _ = self._run
        container = reply.find("kmaContainer")
        values = find(container, "runErrorMeasureRes", "errorValues")

        def count(tag: str) -> int | None:
            value = text(values, tag)
            if value is None or not value.strip():
                return None
            try:
                return int(value)
            except ValueError:
                raise InstrumentError(self.name, "jobStatus", f"{tag} {value!r}") from None

        status_text = text(container, "jobDetails", "jobStatusRes") or ""
        running = status_text.strip() == "running"
        seen, deviation, ref_counts = (
            count("actSeenCounts"),
            count("lastDeviationRaw"),
            count("lastSeenRefCounts"),
        )
        done = ref_counts is not None  # a gate with no reference count has no deviation
        if running:
            # actSeenCounts: meter pulses since the start, the gate's opening edge included [L];
            # progress counts the pulses after it, as ZERA's EC does.
            state = ECState.RUNNING if seen else ECState.WAITING
            progress = 100.0 * max((seen or 0) - 1, 0) / pulses
        else:
            state, progress = ECState.READY, 100.0
        status = ECStatus(
            state,
            progress,
            deviation / 1e4 if deviation is not None else None,
            target,
            ref_counts or 0,
            int(done),
        )
        if not running:
            if not done:
                raise InstrumentError(self.name, "jobStatus", "job closed without a result")
            self._job, self._last = None, status
        return status

    def state_steps(self) -> Steps[ECState]:
        """The job's state (one poll; the poll also holds the result)."""
        return (yield from self.status_steps()).state

    def result_steps(self) -> Steps[ECResult]:
        """Error and reference counts of the job just polled READY (no further exchange)."""
        status = yield from self.status_steps()
        if status.state is not ECState.READY or status.error is None:
            raise InstrumentError(self.name, "result", f"no result: {status.state}")
        return ECResult(status.error, status.reference_counts)

    def configure(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> None:
        run(self.parent, self.configure_steps(meter_constant, pulses, quantity, continuous))

    def start(self) -> None:
        run(self.parent, self.start_steps())

    def abort(self) -> None:
        run(self.parent, self.abort_steps())

    def status(self) -> ECStatus:
        return run(self.parent, self.status_steps())

    def state(self) -> ECState:
        return run(self.parent, self.state_steps())

    def result(self) -> ECResult:
        return run(self.parent, self.result_steps())

    def reference_constant(self) -> float:
        """The reference standard's constant for the quantity it is set to."""
        return self.parent.reference_constant()


class ZeraMad(Instrument):
    """A ZERA MAD error calculator (one calculator: the place it is bound to)."""

    model = "ZERA MAD"
    # VISA interface: XML documents over TCP (SourceMock ErrorCalculator/STM; instruments.md 2.4).
    interfaces: ClassVar[tuple[str, ...]] = ("TCPIP",)
    write_termination = "\n"
    read_termination = "\n"
    error_calculator_inputs: ClassVar[tuple[tuple[str, ...], ...]] = (INPUTS,)

    def __init__(
        self, adapter: Any, name: str | None = None, retries: int = 2, pipeline: bool | None = None
    ) -> None:
        super().__init__(adapter, name, retries, False)  # one request at a time
        self._reference: SharedQuery[float] | None = None
        self._calculator: MadErrorCalculator | None = None

    def request_steps(
        self, reply_tag: str, request: str, content: str, *, idempotent: bool = True
    ) -> Steps[ET.Element]:
        """Send one request (`content`, the element `request`), return the reply's root; raise
        unless the job and the command report OK (sm:MadTcpConnection.cs)."""
        whole = request_document(request, content)
        return (yield from self.exchange_steps(reply_tag, request, whole, idempotent=idempotent))

    def exchange_steps(
        self, reply_tag: str, request: str, whole: str, *, idempotent: bool = True
    ) -> Steps[ET.Element]:
        """`request_steps` of a request document already written (`whole`)."""
        try:
            reply = (yield Exchange(whole, 1, idempotent))[0]
            try:
                root = parse_reply(reply)
            except ET.ParseError as exc:
                raise InstrumentError(self.name, request, f"reply is not XML: {exc}") from None
            container = root.find("kmaContainer")
            job = (text(container, "jobDetails", "jobResult") or "").strip()
            code = (text(container, reply_tag, "cmdResCode") or "").strip()
            if job != "OK" or code != "OK":
                raise InstrumentError(
                    self.name, request, f"refused: jobResult {job!r}, cmdResCode {code!r}"
                )
        except BaseException:
            self.forget_settings()  # failed, timed out or interrupted: bind again next time
            raise
        return root

    def forget_settings(self) -> None:
        """Bind the calculator again at its next configure: after a failure, an abort or a new
        connection the unit may no longer hold the binding the driver sent (SourceMock says
        nothing of a binding outliving an error or a reconnection; someone may have changed it
        at the unit meanwhile)."""
        if self._calculator is not None:
            self._calculator._bound = None

    def _reset_transport(self) -> None:
        self.forget_settings()
        super()._reset_transport()

    def identify(self) -> str:
        """Model and firmware version (`serverVerReq`)."""
        request = element("serverVerReq")
        root = run(self, self.request_steps("serverVerRes", "serverVerReq", request))
        name = (text(root, "kmaContainer", "serverVerRes", "hwZeraName") or "").strip()
        version = (text(root, "kmaContainer", "serverVerRes", "versionValue") or "").strip()
        return f"{name} {version}".strip()

    def initialise(self) -> None:
        """Check the unit answers."""
        self._log.info("%s", self.identify())

    def attach_reference(
        self, reference: ReferenceMeter, constant: SharedQuery[float] | None = None
    ) -> None:
        """The reference standard whose pulse output this unit counts; `constant`, its constant
        shared with the other units counting it (the Bench passes one per reference)."""
        self._reference = constant or SharedQuery(reference.reference_constant)

    def reference_query(self) -> SharedQuery[float]:
        """The attached reference's constant (imp/kWh or imp/kvarh, as it is set), as the query
        every unit counting it shares."""
        if self._reference is None:
            raise InstrumentError(self.name, "configure", "no reference meter attached")
        return self._reference

    def reference_constant(self) -> float:
        """The attached reference's constant (imp/kWh or imp/kvarh, as it is set)."""
        return self.reference_query().get()

    def error_calculator(self, position: int, pulse_input: str, unit: int) -> MadErrorCalculator:
        """The calculator of place `position` on input `pulse_input` (unit 1: a MAD has one)."""
        if unit != 1 or pulse_input not in INPUTS:
            raise InstrumentError(
                self.name, "error_calculator", f"no calculator {unit} / input {pulse_input!r}"
            )
        if self._calculator is not None and self._calculator.position != position:
            raise InstrumentError(
                self.name,
                "error_calculator",
                f"already serves position {self._calculator.position}",
            )
        self._calculator = MadErrorCalculator(self, position, pulse_input)
        return self._calculator
