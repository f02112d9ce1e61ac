"""Fake instruments that record every call, for bench and safety tests."""

from __future__ import annotations

from rig.instruments.roles import ECState, ECStatus, Quantity, SourceCapabilities, SourceStatus


class FakeSource:
    """A PowerSource that records calls in `calls` (and optionally appends them to a file)."""

    capabilities = SourceCapabilities(
        max_voltage=300.0,
        max_current=120.0,
        min_frequency=45.0,
        max_frequency=65.0,
        max_harmonic_order=31,
    )

    def __init__(self, name="source", record_file=None, fail_on=(), stays_on=False, watchdog=False):
        self.name = name
        self.calls: list[tuple] = []
        self.on = False
        self.record_file = record_file
        self.fail_on = set(fail_on)
        self.stays_on = stays_on
        self.watchdog = watchdog

    def _record(self, *call):
        self.calls.append(call)
        if self.record_file is not None:
            with open(self.record_file, "a", encoding="utf-8") as f:
                f.write(repr(call) + "\n")
        if call[0] in self.fail_on:
            raise OSError(f"{call[0]} failed")

    def initialise(self):
        self._record("initialise")

    def apply(self, point):
        self._record("apply", tuple(round(float(p.current), 6) for p in point.phases))

    def output_on(self):
        self._record("output_on")
        self.on = True

    def output_off(self):
        self._record("output_off")
        self.on = self.stays_on

    def is_on(self):
        self._record("is_on")
        return self.on

    def status(self):
        return SourceStatus(self.on)

    def arm_watchdog(self, timeout_s):
        self._record("arm_watchdog", timeout_s)
        return self.watchdog

    def close(self):
        self._record("close")


class FakeReference:
    name = "reference"

    def initialise(self):
        pass

    def set_mode(self, wiring, quantity):
        pass

    def read(self):
        raise NotImplementedError("not used by these tests")

    def reference_constant(self):
        return 5e8

    def close(self):
        pass


class FakeEC:
    def __init__(self, position):
        self.position = position

    def configure(self, meter_constant, pulses, quantity=Quantity.ACTIVE, continuous=False):
        pass

    def start(self):
        pass

    def abort(self):
        pass

    def state(self):
        return ECState.IDLE

    def status(self):
        return ECStatus(ECState.IDLE, 0.0, None, 0, 0, 0)

    def reference_constant(self):
        return 5e8
