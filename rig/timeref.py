"""The time reference of the clock tests: what "true time" was when a meter clock was read, how
well it was known, and why.

On a lab bench true time is the host clock. Linux keeps its synchronisation state in the kernel
(adjtimex(2) / ntp_adjtime(3), read without privileges with modes = 0): the STA_UNSYNC status bit
(0x0040) says nobody (NTP, chrony, PTP via phc2sys) has disciplined the clock lately, and the
return value TIME_ERROR (5) says the same; `maxerror` is the kernel's bound on the clock's error
and `esterror` its estimate, both in microseconds (man 2 adjtimex, "maxerror", "esterror";
RFC 5905 root distance is what ntpd/chronyd write into maxerror). A bound is taken as a
rectangular distribution: standard uncertainty = maxerror / sqrt(3) (JCGM 100 (GUM) 4.3.7).
On the simulated bench true time is the simulator's own virtual time: exact by construction.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

STA_UNSYNC = 0x0040  # <linux/timex.h>
TIME_ERROR = 5  # adjtimex return: clock not synchronised


@dataclass(frozen=True)
class TimeReference:
    """Where true time came from and how well it was known at `read_at`."""

    source: str  # "host clock" or "simulated bench virtual time"
    synchronised: bool | None  # None: the state cannot be read on this host
    uncertainty_s: float | None  # standard uncertainty of an instant; None: unknown
    max_error_s: float | None = None  # kernel bound (maxerror)
    est_error_s: float | None = None  # kernel estimate (esterror)
    detail: str = ""
    read_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        if self.uncertainty_s is None:
            known = "uncertainty unknown"
        else:
            known = f"u = {self.uncertainty_s * 1000:.3g} ms"
        state = {True: "synchronised", False: "NOT synchronised", None: "state unknown"}
        return f"{self.source} ({state[self.synchronised]}, {known}; {self.detail})"


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """struct timex of <sys/timex.h> (glibc, Linux): the fields up to `tai`, then the kernel's
    eleven reserved ints."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("reserved", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class KernelClock:
    """What adjtimex(2) says of the host clock."""

    state: int  # the return value: TIME_OK 0 ... TIME_ERROR 5
    status: int
    maxerror_us: int
    esterror_us: int


def read_kernel_clock() -> KernelClock | None:
    """adjtimex with modes = 0 (read only); None where there is no adjtimex (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    tx = _Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    return KernelClock(state, tx.status, tx.maxerror, tx.esterror)


def host_clock(kernel: KernelClock | None = None, *, now: float | None = None) -> TimeReference:
    """The host clock as time reference, from the kernel's synchronisation state (`kernel`:
    read now if not given)."""
    read_at = time.time() if now is None else now
    if kernel is None:
        kernel = read_kernel_clock()
    if kernel is None:
        return TimeReference("host clock", None, None, detail="no adjtimex on this host: "
                             "synchronisation state not recorded", read_at=read_at)
    unsync = bool(kernel.status & STA_UNSYNC) or kernel.state == TIME_ERROR
    max_error = kernel.maxerror_us / 1e6
    est_error = kernel.esterror_us / 1e6
    detail = (f"adjtimex: state {kernel.state}, status 0x{kernel.status:04x}, maxerror "
              f"{kernel.maxerror_us} us, esterror {kernel.esterror_us} us")
    return TimeReference(
        "host clock",
        synchronised=not unsync,
        # Unsynchronised: the kernel's bound no longer holds (it grows without limit and is
        # capped at 16 s), so the uncertainty is unknown rather than that number.
        uncertainty_s=None if unsync else max_error / math.sqrt(3),
        max_error_s=max_error,
        est_error_s=est_error,
        detail=detail,
        read_at=read_at,
    )


def virtual_clock(now: float) -> TimeReference:
    """The simulated bench: the meters and the rig share the simulator's virtual time."""
    return TimeReference("simulated bench virtual time", True, 0.0,
                         detail="the meters' clocks and the rig read one virtual clock",
                         read_at=now)
