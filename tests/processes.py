"""Test helpers for the servers the tests start as subprocesses."""

from __future__ import annotations

import signal
import subprocess


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a served process, kill it if it has not ended in 30 s, close its pipes."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
