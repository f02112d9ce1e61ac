"""The A1000 real-time clock (manual 3.2.3) on the model's true time.

docs/conventions.md section 2:
meter_seconds = base_meter + (t_true - base_true) * (1 + drift_ppm*1e-6),
with the drift origin at the last clock setting. Meter seconds read as a naive local
datetime counted from 1970-01-01 00:00 (the meter has no time zone; ``utc_offset_s`` in
the configuration places its first setting). The clock keeps running through power-down on
its battery (manual 3.2.5), so it depends on true time only.

Default drift: +1 ppm = 0.0864 s/day, inside the manual's +-0.5 s/day at 23 degC (3.2.3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_EPOCH = dt.datetime(1970, 1, 1)
SECONDS_PER_DAY = 86400.0


def ppm_from_seconds_per_day(s_per_day: float) -> float:
    return s_per_day / SECONDS_PER_DAY * 1e6


def meter_datetime(meter_s: float) -> dt.datetime:
    """Naive datetime of a meter-seconds reading."""
    return _EPOCH + dt.timedelta(seconds=meter_s)


def meter_seconds_of(when: dt.datetime) -> float:
    """Meter seconds of a naive datetime (inverse of ``meter_datetime``)."""
    if when.tzinfo is not None:
        when = when.replace(tzinfo=None)
    return (when - _EPOCH).total_seconds()


@dataclass
class MeterClock:
    base_true: float
    base_meter: float
    drift_ppm: float = 1.0

    @property
    def rate(self) -> float:
        return 1.0 + self.drift_ppm * 1e-6

    def meter_seconds(self, t: float) -> float:
        return self.base_meter + (t - self.base_true) * self.rate

    def true_time(self, meter_s: float) -> float:
        """True time at which the clock reads ``meter_s`` (inverse of ``meter_seconds``)."""
        return self.base_true + (meter_s - self.base_meter) / self.rate

    def datetime(self, t: float) -> dt.datetime:
        return meter_datetime(self.meter_seconds(t))

    def set(self, t: float, meter_s: float) -> float:
        """Set the clock at true time ``t`` to read ``meter_s``; returns the old reading."""
        old = self.meter_seconds(t)
        self.base_true, self.base_meter = t, meter_s
        return old

    def snapshot(self) -> dict[str, float]:
        return {"base_true": self.base_true, "base_meter": self.base_meter}

    def restore(self, d: dict[str, float]) -> None:
        self.base_true = float(d["base_true"])
        self.base_meter = float(d["base_meter"])


def lcd_stamp(meter_s: float | None, with_seconds: bool = True) -> str:
    """A time as the LCD shows it (manual 2.1.2 item 7): "yy-mm-dd hh:mm:ss", or "mm-dd hh:mm"
    beside a demand; "--" for never."""
    if meter_s is None:
        return "--"
    return meter_datetime(meter_s).strftime("%y-%m-%d %H:%M:%S" if with_seconds
                                            else "%m-%d %H:%M")
