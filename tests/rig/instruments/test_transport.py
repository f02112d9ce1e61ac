"""rig.instruments.transport.VisaAdapter.read against a VISA library double (no sockets)."""

from __future__ import annotations

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from rig.instruments.transport import VisaAdapter

DONE = constants.StatusCode.success_termination_character_read
MORE = constants.StatusCode.success_max_count_read


class Library:
    """viRead: hands out the queued (bytes, status) pairs, then times out."""

    def __init__(self, chunks: list[tuple[bytes, constants.StatusCode]]) -> None:
        self.chunks = list(chunks)
        self.asked: list[tuple[int, int]] = []

    def read(self, session: int, count: int) -> tuple[bytes, constants.StatusCode]:
        self.asked.append((session, count))
        if not self.chunks:
            raise VisaIOError(constants.StatusCode.error_timeout)
        return self.chunks.pop(0)


class Resource:
    def __init__(self, library: Library, read_termination: str = "\n") -> None:
        self.visalib = library
        self.session = 7
        self.chunk_size = 4
        self.encoding = "ascii"
        self.read_termination = read_termination
        self.write_termination = "\n"


def test_read_strips_the_termination_and_joins_a_line_longer_than_the_chunk() -> None:
    lib = Library([(b"+0,N", MORE), (b"o er", MORE), (b"ror\n", DONE), (b"4\n", DONE)])
    adapter = VisaAdapter(Resource(lib))
    assert adapter.read() == "+0,No error"
    assert adapter.read() == "4"
    assert lib.asked == [(7, 4)] * 4


def test_read_keeps_a_line_without_termination_and_honours_other_terminations() -> None:
    assert VisaAdapter(Resource(Library([(b"AES1\r", DONE)]), "\r")).read() == "AES1"
    assert VisaAdapter(Resource(Library([(b"partial", DONE)]))).read() == "partial"


def test_a_timeout_reaches_the_driver_as_a_visa_error() -> None:
    with pytest.raises(VisaIOError):
        VisaAdapter(Resource(Library([]))).read()


class NoNodelayResource(Resource):
    """A backend that serves neither VI_ATTR_TCPIP_NODELAY nor VI_ATTR_RSRC_NAME, as pyvisa-rs
    0.1.8 (VI_ERROR_NSUP_ATTR on the one, OverflowError on the other, 0xBFFF0002)."""

    def set_visa_attribute(self, attribute: object, value: object) -> None:
        raise VisaIOError(constants.StatusCode.error_nonsupported_attribute)

    @property
    def resource_name(self) -> str:
        raise OverflowError("number too large to fit in target type")


class Manager:
    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.opened: list[tuple[str, dict[str, object]]] = []

    def open_resource(self, name: str, **kwargs: object) -> Resource:
        self.opened.append((name, kwargs))
        return self.resource


def test_a_backend_without_nodelay_opens_with_a_warning_naming_the_resource(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "TCPIP::127.0.0.1::5025::SOCKET"
    manager = Manager(NoNodelayResource(Library([(b"1\n", DONE)])))
    adapter = VisaAdapter.open(manager, name, write_termination="\n", read_termination="\n")
    assert adapter.read() == "1"
    assert manager.opened == [
        (name, {"write_termination": "\n", "read_termination": "\n", "timeout": 5000})
    ]
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert f"could not disable Nagle on {name}" in caplog.text
