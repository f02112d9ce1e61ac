"""Exceptions raised by the instrument layer."""

from __future__ import annotations


class InstrumentError(RuntimeError):
    """An instrument refused a command, replied nonsense, or could not be reached.

    The message names the instrument, the command and the cause.
    """

    def __init__(self, instrument: str, command: str, cause: str) -> None:
        super().__init__(f"{instrument}: command {command!r} failed: {cause}")
        self.instrument = instrument
        self.command = command
        self.cause = cause


class SettingError(ValueError):
    """A value for a driver setting is outside what the instrument accepts (nothing was sent)."""


class LoadPointRefused(ValueError):
    """A load point is outside the bench's capabilities or safety limits (nothing was sent).

    The message names the limit that refused it.
    """
