"""Line transports for drivers: a PyVISA resource, or anything with write(line)/read() -> line.

Drivers never see pyvisa directly, so tests pass a transcript adapter (rig.instruments.testing).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any, Protocol

from pyvisa import constants
from pyvisa.errors import VisaIOError

log = logging.getLogger("rig.instruments.transport")

_PAST_THE_CHUNK = constants.StatusCode.success_max_count_read

#: Transport failures a driver treats as "instrument unreachable": pyvisa-py raises plain socket
#: errors (anchors.md 15), real VISA libraries raise VisaIOError.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, VisaIOError)


class Adapter(Protocol):
    """One line out, one line in; terminations are the adapter's business."""

    def write(self, line: str) -> None: ...
    def read(self) -> str: ...
    def close(self) -> None: ...


class VisaAdapter:
    """A pyvisa message-based resource with explicit terminations and timeout."""

    def __init__(self, resource: Any, reopen: Any = None) -> None:
        self._reopen = reopen
        self._attach(resource)

    def _attach(self, resource: Any) -> None:
        """Take `resource` and what every line needs of it, looked up once: pyvisa's Resource
        serves encoding, terminations and chunk size through properties, and pyvisa-py's
        library dispatches every viRead/viWrite through a session lookup and status handling
        (measured beside a bare socket: 65 -> 62 us a loopback query, the socket 36 us). What
        is left is pyvisa-py's session read and write themselves (profiled, client CPU per
        query with the reply already waiting: read 18 us against a buffered socket readline's
        4; it looks up three attributes, works out its select timeouts, selects, receives and
        copies through a bytearray; write selects before it sends), which this adapter does not
        replace: it is the VISA path the figure measures. The pyvisa-py session object is
        called directly, its error status raised as VisaIOError as its library does; any other
        library (no session object here) through its public read/write."""
        self.resource = resource
        self._session = _pyvisa_py_session(resource)
        self._encoding = resource.encoding
        self._write_termination = resource.write_termination.encode(self._encoding)
        self._read_termination = (resource.read_termination or "").encode(self._encoding)
        self._chunk = resource.chunk_size

    @classmethod
    def open(
        cls,
        resource_manager: Any,
        resource_name: str,
        *,
        write_termination: str,
        read_termination: str,
        timeout_ms: int = 5000,
        serial: dict[str, Any] | None = None,
    ) -> VisaAdapter:
        """Open `resource_name` (never discovered: always an explicit string)."""
        kwargs: dict[str, Any] = {
            "write_termination": write_termination,
            "read_termination": read_termination,
            "timeout": timeout_ms,
        }
        if resource_name.upper().startswith("ASRL") and serial:
            kwargs.update(serial)

        def reopen() -> Any:
            resource = resource_manager.open_resource(resource_name, **kwargs)
            if "::SOCKET" in resource_name.upper():
                _disable_nagle(resource, resource_name)
            return resource

        return cls(reopen(), reopen)

    def reset(self) -> None:
        """Close and reopen the resource (a reset TCP connection stays dead in pyvisa-py)."""
        if self._reopen is None:
            return
        with contextlib.suppress(*TRANSPORT_ERRORS):  # already broken: reopening is the point
            self.resource.close()
        self._attach(self._reopen())

    def write(self, line: str) -> None:
        """One command line with the write termination, straight to viWrite as `read` reads
        (Resource.write's checks and logging layers are for interactive use)."""
        data = line.encode(self._encoding) + self._write_termination
        if self._session is None:
            self.resource.visalib.write(self.resource.session, data)
        elif (status := self._session.write(data)[1]) < 0:
            raise VisaIOError(status)

    def read(self) -> str:
        """One reply line, its termination stripped.

        Straight to viRead (see `_attach`): Resource.read wraps that call in warning and
        logging layers costing as much again, per line, and a pipelined transaction reads a line
        per position (bench_sim: 21.5 -> 17.9 us a line, simulator included). Lines are far
        shorter than the chunk, so one call returns one.
        """
        data, status = self._read_chunk()
        while status == _PAST_THE_CHUNK:  # a line longer than the chunk
            more, status = self._read_chunk()
            data += more
        term = self._read_termination  # stripped before decoding: one copy less per line
        if term and data.endswith(term):
            data = data[: -len(term)]
        return data.decode(self._encoding)

    def _read_chunk(self) -> tuple[bytes, Any]:
        if self._session is None:
            return self.resource.visalib.read(self.resource.session, self._chunk)
        data, status = self._session.read(self._chunk)
        if status < 0:
            raise VisaIOError(status)
        return data, status

    def close(self) -> None:
        self.resource.close()


def _pyvisa_py_session(resource: Any) -> Any:
    """pyvisa-py's session object behind `resource` (None for any other VISA library)."""
    visalib = resource.visalib
    if not type(visalib).__module__.startswith("pyvisa_py."):
        return None
    sessions = getattr(visalib, "sessions", None)
    return sessions.get(resource.session) if isinstance(sessions, dict) else None


def _disable_nagle(resource: Any, resource_name: str) -> None:
    """Switch Nagle's algorithm off on a SOCKET resource.

    SCPI writes get no reply, so with Nagle on, the error query after a write waits for the delayed
    ACK of the write (about 40 ms on Linux loopback, measured: 45 ms per write + SYST:ERR?, 0.1 ms
    per query). pyvisa-py 0.8.1 wires VI_ATTR_TCPIP_NODELAY to a setter that rejects it, so fall
    back to its session's socket. The message names `resource_name` as opened: asking the
    resource for it is one more attribute a backend may not serve (pyvisa-rs 0.1.8 raises
    OverflowError on VI_ATTR_RSRC_NAME, 0xBFFF0002).
    """
    try:
        resource.set_visa_attribute(constants.ResourceAttribute.tcpip_nodelay, constants.VI_TRUE)
        return
    except Exception as exc:  # pyvisa-py raises its own UnknownAttribute
        log.debug("VI_ATTR_TCPIP_NODELAY not settable (%s); trying the socket", exc)
    sessions = getattr(resource.visalib, "sessions", None)
    session = sessions.get(resource.session) if isinstance(sessions, dict) else None
    sock = getattr(session, "interface", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        log.warning("could not disable Nagle on %s: a write and its error check wait for the "
                    "delayed ACK (about 40 ms on Linux)", resource_name)
