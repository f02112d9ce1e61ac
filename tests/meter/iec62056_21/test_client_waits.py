"""The client's waits for input go to the wait its context names (INPUT_WAIT), else in place."""

from __future__ import annotations

import contextvars
import dataclasses
import time

import pytest

from meter.iec62056_21 import Client, ProtocolTimeout
from meter.iec62056_21.client import INPUT_WAIT, wait_in_place

from .conftest import FAST


class Recorder:
    """An InputWait that notes each wait and then waits in place."""

    def __init__(self) -> None:
        self.waits: list[tuple[int | None, float]] = []

    def __call__(self, fd: int | None, seconds: float) -> bool:
        self.waits.append((fd, seconds))
        return wait_in_place(fd, seconds)


def test_a_client_waits_through_its_contexts_wait_on_its_port(served) -> None:
    server, bank = served
    recorder = Recorder()
    context = contextvars.copy_context()
    context.run(INPUT_WAIT.set, recorder)

    def readout() -> tuple[int, int]:
        with Client(server.url, timing=FAST) as client:
            return len(client.readout()), client.port.fileno()

    count, fd = context.run(readout)
    assert count == len(bank.registers)
    # At least the identification and the readout were awaited, each on the port, each
    # bounded by the time the client allows an answer.
    assert len(recorder.waits) >= 2
    assert {w[0] for w in recorder.waits} == {fd}
    assert all(0 < seconds <= FAST.answer_timeout for _, seconds in recorder.waits)

    recorder.waits.clear()
    assert readout()[0] == len(bank.registers)  # outside that context: waits in place
    assert recorder.waits == []


def test_a_baud_switch_pause_goes_through_the_wait(served) -> None:
    server, _ = served
    recorder = Recorder()
    context = contextvars.copy_context()
    context.run(INPUT_WAIT.set, recorder)
    timing = dataclasses.replace(FAST, baud_switch_delay=0.05)

    def readout() -> None:
        with Client(server.url, timing=timing) as client:
            client.readout()

    context.run(readout)
    assert (None, 0.05) in recorder.waits


def test_a_transport_without_a_descriptor_waits_in_place() -> None:
    # loop:// has no descriptor (see test_sessions): the client polls it, whatever the wait.
    recorder = Recorder()
    context = contextvars.copy_context()
    context.run(INPUT_WAIT.set, recorder)

    def readout() -> None:
        with Client("loop://", timing=FAST, repeats=0) as client:
            client.readout()

    start = time.monotonic()
    with pytest.raises(ProtocolTimeout, match="identification"):
        context.run(readout)
    assert time.monotonic() - start >= FAST.answer_timeout
    assert recorder.waits == []
