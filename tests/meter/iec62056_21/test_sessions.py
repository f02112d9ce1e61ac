"""One port held across sessions, on real ptys: nothing of one session reaches the next.

The meter holds its pty for good (as a meter's port is always there), so sessions end by the
protocol alone (standards.md 6.3 break, 6.6 time-outs, a new sign-on). A late answer is the
hazard: a client that timed out repeats, NAKs or breaks, or leaves, and the next client opens
the same port. A slow bank call stands for a meter late under load.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from meter.iec62056_21 import (
    BREAK,
    Client,
    Command,
    DataMessage,
    DataSet,
    Identification,
    MeterServer,
    ProtocolTimeout,
    State,
)
from meter.iec62056_21.framing import NEED_DATA, FrameSplitter, Garbage

from .conftest import FAST
from .demo_bank import PASSWORD, DemoBank

# Later than the client waits for an answer (FAST.answer_timeout = 0.15 + 0.1 s), so it
# repeats before the meter's answer is ready.
LATE_S = FAST.answer_timeout + 0.15


class SlowBank(DemoBank):
    """A DemoBank whose next calls of a method take `delay` seconds (a meter late under load)."""

    def __init__(self) -> None:
        super().__init__()
        self.delays: dict[str, list[float]] = {}

    def _pause(self, name: str) -> None:
        pending = self.delays.get(name)
        if pending:
            time.sleep(pending.pop(0))

    def identification(self) -> Identification:
        self._pause("identification")
        return super().identification()

    def read(self, address: str, args: tuple[str, ...]) -> list[DataSet]:
        self._pause("read")
        return super().read(address, args)


def test_sessions_follow_each_other_on_the_held_port() -> None:
    bank = DemoBank()
    with MeterServer(bank, transport="pty", timing=FAST) as server:
        for n in range(3):
            with Client(server.url, timing=FAST) as client:
                client.program(password=PASSWORD)
                client.write("0.9.1", f"12000{n}")
                assert client.read("0.9.1")[0].raw == f"12000{n}"
                client.sign_off()
        assert len(Client(server.url, timing=FAST).open().readout()) == len(bank.registers)
        # Never hung up: the server held the slave through every client's close.
        assert server.sessions == 4 and server.disconnects == 0 and server.dropped == 0


def test_a_late_identification_is_dropped_when_the_client_repeats_its_request() -> None:
    # The client times out waiting for the identification and repeats its request; the meter,
    # its answer ready only after that, does not send it (the client spoke meanwhile) and
    # answers the repeat: the client sees one identification, then P0.
    bank = SlowBank()
    bank.delays["identification"] = [LATE_S]
    with MeterServer(bank, transport="pty", timing=FAST) as server:
        with Client(server.url, timing=FAST) as client:
            client.program(password=PASSWORD)
            assert client.read("C.1.0")[0].raw == "12345678"
            client.sign_off()
        assert server.dropped == 1 and server.sessions == 2


def test_a_late_answer_in_programming_mode_goes_out_once_for_the_nak() -> None:
    # R1 answered after the client's time-out: the client NAKs; the meter drops the answer it
    # had ready and sends it once, for the NAK. The next R1 gets its own answer, not the first.
    bank = SlowBank()
    with MeterServer(bank, transport="pty", timing=FAST) as server:
        with Client(server.url, timing=FAST) as client:
            client.program()
            bank.delays["read"] = [LATE_S]
            assert client.read("C.1.0")[0].raw == "12345678"
            assert client.read("0.9.2")[0].raw == "261125"
            client.sign_off()
        assert server.dropped == 1


def test_a_client_that_gave_up_breaks_and_the_next_session_is_clean() -> None:
    # The answer comes after every repeat of the client: it gives up (ProtocolTimeout) and
    # aborts with a break (standards.md 6.6). Its NAKs and the break reach the meter while it
    # works; nothing of that session is sent, and the next client on the port reads its own.
    bank = SlowBank()
    with MeterServer(bank, transport="pty", timing=FAST) as server:
        with Client(server.url, timing=FAST) as client:
            client.program()
            bank.delays["read"] = [(FAST.answer_timeout + 0.05) * 4]
            with pytest.raises(ProtocolTimeout, match="answer to R1"):
                client.read("C.1.0")
        with Client(server.url, timing=FAST) as client:
            client.program()
            assert client.read("0.9.2")[0].raw == "261125"
            client.sign_off()
        assert server.dropped >= 1


class PtyPeer:
    """A scripted meter on the master side of a pty: `script(write, frames)`."""

    def __init__(self, script) -> None:
        self.master, slave = os.openpty()
        self.url = os.ttyname(slave)
        self._slave = slave  # held, like MeterServer, so the port outlives its clients
        self._closing = False
        self.thread = threading.Thread(target=script, args=(self._write, self._frames()),
                                       daemon=True)
        self.thread.start()

    def _write(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
        except OSError:
            if not self._closing:  # a late answer after the test's end goes nowhere
                raise

    def _frames(self):
        splitter = FrameSplitter()
        while True:
            while (frame := splitter.next_frame(option_select_expected=True)) is not NEED_DATA:
                if not isinstance(frame, Garbage):
                    yield frame
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            splitter.feed(data)

    def __enter__(self) -> PtyPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # The slave closed first ends the script's reads (EIO once no slave is open); the
        # master is closed only after the script has ended, so that a late answer it writes
        # never goes to a closed descriptor (EBADF in the thread, seen under load) or to
        # another file that reused its number.
        self._closing = True
        os.close(self._slave)
        self.thread.join(timeout=5)
        os.close(self.master)


def test_the_client_discards_a_second_identification_it_did_not_ask_for() -> None:
    # An outside meter that answers every request, however late: the client's repeated
    # request gets a second identification after the option select (the failure under load
    # was `UnexpectedMessage: client in state AWAIT_P0 cannot recv Identification`). The
    # client discards it, as a head-end does, and takes the P0 that follows.
    ident = Identification("XYZ", "5", "LATE").encode()
    p0 = Command("P", "0", DataSet.of("", "")).encode()
    seen: list[bytes] = []

    def script(write, frames):
        first = True
        for frame in frames:
            seen.append(frame)
            if frame.startswith(b"/?"):
                if first:
                    time.sleep(LATE_S)  # late: the client repeats meanwhile
                    first = False
                write(ident)
            elif frame.startswith(b"\x06"):
                time.sleep(0.05)  # the second identification is on its way first
                write(p0)
            elif frame == BREAK.encode():
                return

    with PtyPeer(script) as peer:
        with Client(peer.url, timing=FAST) as client:
            client.program()
            assert client.conn.state is State.PROG
            client.sign_off()
        peer.thread.join(timeout=5)
    assert seen[:2] == [b"/?!\r\n", b"/?!\r\n"] and seen[-1] == BREAK.encode()


def test_an_answer_sent_twice_does_not_pass_for_the_next_one() -> None:
    # A meter that answers an R1 twice (a NAK crossed its late answer): the copy either waits
    # in the port when the next R1 goes out (emptied before it) or comes just after it (data
    # for another address, discarded); each R1 gets its own answer.
    def answer(frame: bytes) -> bytes:
        address = frame[4:frame.index(b"(")].decode()
        return DataMessage.of([DataSet.of(address, address.replace(".", ""))]).encode()

    def script(write, frames):
        previous = b""
        for frame in frames:
            if frame.startswith(b"/?"):
                write(Identification("XYZ", "5", "TWICE").encode())
            elif frame.startswith(b"\x06"):
                write(Command("P", "0", DataSet.of("", "")).encode())
            elif frame.startswith(b"\x01R1"):
                if previous:
                    write(previous)  # the copy comes first, then the answer
                write(answer(frame))
                write(answer(frame))  # and a copy left in the port
                previous = answer(frame)
            elif frame == BREAK.encode():
                return

    with PtyPeer(script) as peer, Client(peer.url, timing=FAST) as client:
        client.program()
        for address in ("0.9.1", "0.9.2", "F.F"):
            time.sleep(0.05)  # the copy is in the port before the next R1
            assert client.read(address)[0].raw == address.replace(".", "")
        client.sign_off()


def test_a_transport_without_a_descriptor_is_polled() -> None:
    # pyserial's loop:// has no file descriptor to wait on (no fileno): the client polls it.
    # What it writes comes back; its own request is not an identification, so it times out.
    with Client("loop://", timing=FAST, repeats=0) as client:
        start = time.monotonic()
        with pytest.raises(ProtocolTimeout, match="identification"):
            client.readout()
        assert time.monotonic() - start >= FAST.answer_timeout
