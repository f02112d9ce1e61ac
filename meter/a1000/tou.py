"""Time-of-use (TOU) tables of the A1000 (manual 1.4) and the tariff calendar.

Precedence (manual 1.4 item 2): public holiday over weekend over season.

* 4 daily profiles (manual 1.4 items 3, 7, 9), each 1..10 sections; a section has a start
  time to the minute and one of 4 tariffs. The last section wraps to the first (manual 1.4
  item 8): before the first section's start, the last section's tariff is in force.
* up to 10 seasons a year (item 6), each starting on a month-day; the last season wraps
  over the year end to the first.
* up to 2 weekend days a week (item 5).
* public holidays: up to 10 years of up to 24 days each (item 4).
* holiday, weekend and season each select a daily profile or a fixed tariff (items 3, 9).

All times here are *meter* times: seconds of the meter's own clock, read as a naive local
datetime counted from 1970-01-01 00:00 (see ``meter.a1000.clock``). Boundaries fall on
whole minutes, so they are exact integers.

An invalid table raises ``TouError`` naming the table, entry and reason; callers keep the
previous tables in force (they only swap in a fully validated ``TouTables``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any

MAX_PROFILES = 4  # manual 1.4 item 3
MAX_SECTIONS = 10  # manual 1.4 items 3, 7
MAX_SEASONS = 10  # manual 1.4 item 6
MAX_WEEKEND_DAYS = 2  # manual 1.4 item 5
MAX_HOLIDAY_YEARS = 10  # manual 1.4 item 4
MAX_HOLIDAYS_PER_YEAR = 24  # manual 1.4 item 4
TARIFFS = (1, 2, 3, 4)  # manual 1.1 item 4

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAY = 86400
_WEEKDAY_NAMES = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


class TouError(ValueError):
    """An invalid TOU table; the message names the entry and the rule broken."""


@dataclass(frozen=True)
class Selection:
    """What a day type uses: a daily profile (1..4) or a fixed tariff (1..4)."""

    profile: int | None = None
    tariff: int | None = None

    def __post_init__(self) -> None:
        if (self.profile is None) == (self.tariff is None):
            raise TouError("a selection needs exactly one of profile or tariff")
        if self.profile is not None and self.profile not in range(1, MAX_PROFILES + 1):
            raise TouError(f"daily profile {self.profile} out of range 1..{MAX_PROFILES}")
        if self.tariff is not None and self.tariff not in TARIFFS:
            raise TouError(f"tariff {self.tariff} out of range 1..4 (A1000 manual 1.1 item 4)")

    def encode(self) -> str:
        return f"P{self.profile}" if self.profile is not None else f"T{self.tariff}"

    @classmethod
    def decode(cls, text: str) -> Selection:
        m = re.fullmatch(r"([PT])(\d+)", text.strip().upper())
        if not m:
            raise TouError(f"selection {text!r}: expected P<profile> or T<tariff>")
        n = int(m.group(2))
        return cls(profile=n) if m.group(1) == "P" else cls(tariff=n)

    @classmethod
    def from_obj(cls, obj: Any) -> Selection:
        if isinstance(obj, Selection):
            return obj
        if isinstance(obj, str):
            return cls.decode(obj)
        if isinstance(obj, dict):
            extra = set(obj) - {"profile", "tariff"}
            if extra:
                raise TouError(f"selection: unknown keys {sorted(extra)}")
            return cls(profile=obj.get("profile"), tariff=obj.get("tariff"))
        raise TouError(f"selection: expected a mapping or 'P1'/'T2', got {obj!r}")

    def to_obj(self) -> dict[str, int]:
        return {"profile": self.profile} if self.profile is not None else {"tariff": self.tariff}


@dataclass(frozen=True)
class Section:
    start_minute: int  # minute of the day 0..1439
    tariff: int

    def encode(self) -> str:
        return f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}={self.tariff}"


@dataclass(frozen=True)
class Season:
    month: int
    day: int
    selection: Selection

    def encode(self) -> str:
        return f"{self.month:02d}-{self.day:02d}={self.selection.encode()}"


def _parse_hhmm(text: Any, where: str) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        # YAML 1.1 reads an unquoted 10:00 as the base-60 integer 600 = minutes of the day.
        if not 0 <= text < 1440:
            raise TouError(f"{where}: start {text!r} is not a time of day 00:00..23:59")
        return text
    m = re.fullmatch(r"(\d{1,2}):?(\d{2})", str(text).strip())
    if not m:
        raise TouError(f"{where}: start {text!r} is not HH:MM")
    h, mi = int(m.group(1)), int(m.group(2))
    if h > 23 or mi > 59:
        raise TouError(f"{where}: start {text!r} is not a time of day 00:00..23:59")
    return h * 60 + mi


def _parse_month_day(text: str, where: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", str(text).strip())
    if not m:
        raise TouError(f"{where}: start {text!r} is not MM-DD")
    month, day = int(m.group(1)), int(m.group(2))
    try:
        dt.date(2001, month, day)  # a non-leap year: 02-29 cannot start a season
    except ValueError:
        raise TouError(f"{where}: {text!r} is not a month-day valid in every year") from None
    return month, day


def _check_tariff(tariff: Any, where: str) -> int:
    if not isinstance(tariff, int) or isinstance(tariff, bool) or tariff not in TARIFFS:
        raise TouError(f"{where}: tariff {tariff!r} out of range 1..4 (A1000 manual 1.1 item 4)")
    return tariff


def validate_profile(sections: list[Section], where: str) -> tuple[Section, ...]:
    if not sections:
        raise TouError(f"{where}: needs at least one section")
    if len(sections) > MAX_SECTIONS:
        raise TouError(
            f"{where}: {len(sections)} sections, at most {MAX_SECTIONS} (A1000 manual 1.4 item 7)"
        )
    for i, s in enumerate(sections):
        _check_tariff(s.tariff, f"{where} section {i + 1}")
        if not 0 <= s.start_minute < 1440:
            raise TouError(f"{where} section {i + 1}: start minute {s.start_minute} not in a day")
        if i and s.start_minute <= sections[i - 1].start_minute:
            raise TouError(
                f"{where} section {i + 1}: start {s.encode().split('=')[0]} is not after the "
                f"previous section's {sections[i - 1].encode().split('=')[0]} "
                "(sections must be in increasing time order without overlap)"
            )
    return tuple(sections)


@dataclass(frozen=True)
class TouTables:
    profiles: dict[int, tuple[Section, ...]]
    seasons: tuple[Season, ...]
    weekend_days: frozenset[int] = frozenset()
    weekend: Selection | None = None
    holidays: dict[dt.date, Selection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n, secs in self.profiles.items():
            if n not in range(1, MAX_PROFILES + 1):
                raise TouError(f"daily profile {n}: number out of range 1..{MAX_PROFILES}")
            validate_profile(list(secs), f"daily profile {n}")
        if not self.seasons:
            raise TouError("seasons: at least one season is needed (it may span the year)")
        if len(self.seasons) > MAX_SEASONS:
            raise TouError(
                f"seasons: {len(self.seasons)} seasons, at most {MAX_SEASONS} "
                "(A1000 manual 1.4 item 6)"
            )
        for i, s in enumerate(self.seasons):
            if i and (s.month, s.day) <= (self.seasons[i - 1].month, self.seasons[i - 1].day):
                raise TouError(
                    f"season {i + 1}: start {s.month:02d}-{s.day:02d} is not after the previous "
                    "season's start (seasons must be in increasing date order)"
                )
        if len(self.weekend_days) > MAX_WEEKEND_DAYS:
            raise TouError(
                f"weekend: {len(self.weekend_days)} days, at most {MAX_WEEKEND_DAYS} "
                "(A1000 manual 1.4 item 5)"
            )
        if any(d not in range(1, 8) for d in self.weekend_days):
            raise TouError("weekend: days must be ISO weekdays 1 (Mon) .. 7 (Sun)")
        if self.weekend_days and self.weekend is None:
            raise TouError("weekend: days given without a profile or tariff")
        per_year: dict[int, int] = {}
        for d in self.holidays:
            per_year[d.year] = per_year.get(d.year, 0) + 1
        if len(per_year) > MAX_HOLIDAY_YEARS:
            raise TouError(
                f"holidays: {len(per_year)} years, at most {MAX_HOLIDAY_YEARS} "
                "(A1000 manual 1.4 item 4)"
            )
        for year, n in sorted(per_year.items()):
            if n > MAX_HOLIDAYS_PER_YEAR:
                raise TouError(
                    f"holidays: {n} days in {year}, at most {MAX_HOLIDAYS_PER_YEAR} a year "
                    "(A1000 manual 1.4 item 4)"
                )
        used = [s.selection for s in self.seasons] + list(self.holidays.values())
        if self.weekend is not None:
            used.append(self.weekend)
        for sel in used:
            if sel.profile is not None and sel.profile not in self.profiles:
                raise TouError(f"daily profile {sel.profile} is selected but not defined")

    # -- construction from YAML/JSON objects and from protocol values -------------------

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> TouTables:
        """Build from the config/snapshot form (see ``to_obj``)."""
        if not isinstance(obj, dict):
            raise TouError(f"tou: expected a mapping, got {type(obj).__name__}")
        extra = set(obj) - {"daily_profiles", "seasons", "weekend", "holidays"}
        if extra:
            raise TouError(f"tou: unknown keys {sorted(extra)}")
        profiles: dict[int, tuple[Section, ...]] = {}
        for key, secs in (obj.get("daily_profiles") or {}).items():
            where = f"daily profile {key}"
            try:
                n = int(key)
            except (TypeError, ValueError):
                raise TouError(f"{where}: profile number must be 1..4") from None
            if not isinstance(secs, list):
                raise TouError(f"{where}: expected a list of sections")
            parsed = []
            for i, s in enumerate(secs):
                parsed.append(_section_from_obj(s, f"{where} section {i + 1}"))
            profiles[n] = validate_profile(parsed, where)
        seasons = []
        for i, s in enumerate(obj.get("seasons") or []):
            where = f"season {i + 1}"
            if isinstance(s, str):
                seasons.append(_season_decode(s, where))
                continue
            if not isinstance(s, dict) or "start" not in s:
                raise TouError(f"{where}: expected {{start: MM-DD, profile|tariff: n}}")
            month, day = _parse_month_day(s["start"], where)
            sel = Selection.from_obj({k: v for k, v in s.items() if k != "start"})
            seasons.append(Season(month, day, sel))
        weekend = obj.get("weekend") or {}
        days: set[int] = set()
        wsel = None
        if weekend:
            for d in weekend.get("days", []):
                days.add(_weekday(d))
            rest = {k: v for k, v in weekend.items() if k != "days"}
            wsel = Selection.from_obj(rest) if rest else None
        holidays: dict[dt.date, Selection] = {}
        for i, h in enumerate(obj.get("holidays") or []):
            where = f"holiday {i + 1}"
            if isinstance(h, str):
                day, sel = _holiday_decode(h, where)
            else:
                if not isinstance(h, dict) or "date" not in h:
                    raise TouError(f"{where}: expected {{date: YYYY-MM-DD, profile|tariff: n}}")
                day = _parse_date(h["date"], where)
                sel = Selection.from_obj({k: v for k, v in h.items() if k != "date"})
            if day in holidays:
                raise TouError(f"{where}: {day.isoformat()} is listed twice")
            holidays[day] = sel
        return cls(profiles, tuple(seasons), frozenset(days), wsel, holidays)

    def to_obj(self) -> dict[str, Any]:
        return {
            "daily_profiles": {
                n: [{"start": s.encode().split("=")[0], "tariff": s.tariff} for s in secs]
                for n, secs in sorted(self.profiles.items())
            },
            "seasons": [
                {"start": f"{s.month:02d}-{s.day:02d}", **s.selection.to_obj()}
                for s in self.seasons
            ],
            "weekend": (
                {"days": sorted(self.weekend_days), **self.weekend.to_obj()}
                if self.weekend is not None
                else {}
            ),
            "holidays": [
                {"date": d.isoformat(), **sel.to_obj()} for d, sel in sorted(self.holidays.items())
            ],
        }

    # -- replacing one table (W1): each returns a new, fully validated TouTables --------

    def with_profile(self, n: int, encoded: tuple[str, ...]) -> TouTables:
        where = f"daily profile {n}"
        if n not in range(1, MAX_PROFILES + 1):
            raise TouError(f"{where}: number out of range 1..{MAX_PROFILES}")
        secs = [_section_decode(v, f"{where} section {i + 1}") for i, v in enumerate(encoded)]
        profiles = dict(self.profiles)
        profiles[n] = validate_profile(secs, where)
        return TouTables(profiles, self.seasons, self.weekend_days, self.weekend, self.holidays)

    def with_seasons(self, encoded: tuple[str, ...]) -> TouTables:
        seasons = tuple(_season_decode(v, f"season {i + 1}") for i, v in enumerate(encoded))
        return TouTables(self.profiles, seasons, self.weekend_days, self.weekend, self.holidays)

    def with_weekend(self, encoded: tuple[str, ...]) -> TouTables:
        """Values: the weekday digits (ISO, e.g. '67'; '' for none) then the selection."""
        if len(encoded) != 2:
            raise TouError("weekend: expected (days)(selection), e.g. (67)(P2)")
        days = frozenset(_weekday(c) for c in encoded[0].strip())
        sel = Selection.decode(encoded[1]) if days else None
        return TouTables(self.profiles, self.seasons, days, sel, self.holidays)

    def with_holidays(self, encoded: tuple[str, ...]) -> TouTables:
        holidays: dict[dt.date, Selection] = {}
        for i, v in enumerate(encoded):
            if not v.strip():
                continue
            day, sel = _holiday_decode(v, f"holiday {i + 1}")
            if day in holidays:
                raise TouError(f"holiday {i + 1}: {day.isoformat()} is listed twice")
            holidays[day] = sel
        return TouTables(self.profiles, self.seasons, self.weekend_days, self.weekend, holidays)

    def encode_profile(self, n: int) -> tuple[str, ...]:
        return tuple(s.encode() for s in self.profiles.get(n, ()))

    def encode_seasons(self) -> tuple[str, ...]:
        return tuple(s.encode() for s in self.seasons)

    def encode_weekend(self) -> tuple[str, ...]:
        days = "".join(str(d) for d in sorted(self.weekend_days))
        return (days, self.weekend.encode() if self.weekend else "")

    def encode_holidays(self) -> tuple[str, ...]:
        return tuple(f"{d.isoformat()}={s.encode()}" for d, s in sorted(self.holidays.items()))

    # -- the calendar ----------------------------------------------------------------

    def selection_for(self, day: dt.date) -> Selection:
        """Holiday over weekend over season (manual 1.4 item 2)."""
        sel = self.holidays.get(day)
        if sel is not None:
            return sel
        if self.weekend is not None and day.isoweekday() in self.weekend_days:
            return self.weekend
        key = (day.month, day.day)
        chosen = self.seasons[-1]  # wraps over the year end
        for s in self.seasons:
            if (s.month, s.day) <= key:
                chosen = s
            else:
                break
        return chosen.selection

    def tariff_on(self, day: dt.date, minute: int) -> int:
        return self._tariff_of(self.selection_for(day), minute)

    def _tariff_of(self, sel: Selection, minute: int) -> int:
        """The tariff a day's selection gives at ``minute`` of the day."""
        if sel.tariff is not None:
            return sel.tariff
        secs = self.profiles[sel.profile]  # type: ignore[index]
        chosen = secs[-1]  # last section wraps to the first (manual 1.4 item 8)
        for s in secs:
            if s.start_minute <= minute:
                chosen = s
            else:
                break
        return chosen.tariff

    def tariff_at(self, meter_s: float) -> int:
        day, sec = divmod(int(meter_s // 1), _DAY)
        return self.tariff_on(dt.date.fromordinal(_EPOCH_ORDINAL + day), sec // 60)

    def tariffs(self) -> frozenset[int]:
        """Every tariff a day can have: those of the selections the calendar can make (seasons,
        the weekend if it has days, holidays) through their profiles' sections (an empty
        frozenset if a selection names a profile the tables lack)."""
        selections = [*(s.selection for s in self.seasons), *self.holidays.values()]
        if self.weekend is not None and self.weekend_days:
            selections.append(self.weekend)
        out: set[int] = set()
        for sel in selections:
            if sel.tariff is not None:
                out.add(sel.tariff)
            elif sel.profile in self.profiles:
                out.update(sec.tariff for sec in self.profiles[sel.profile])
            else:
                return frozenset()
        return frozenset(out)

    @functools.cached_property
    def _one_tariff(self) -> bool:
        """Whether every selection gives one and the same tariff (`tariffs`), worked out once:
        the tables do not change (a new calendar is a new TouTables), `next_change` asks at
        every boundary."""
        return len(self.tariffs()) == 1

    def next_change(self, meter_s: float, horizon_days: int = 800) -> tuple[int, int] | None:
        """First boundary after ``meter_s`` where the tariff changes: (meter second, tariff).

        Candidates are the section starts of each day and midnights (where the day type may
        change); they are visited in order, day by day, never second by second. None if the
        tariff does not change within ``horizon_days``.
        """
        if self._one_tariff:
            return None  # one tariff in every selection: it never changes (spare the scan)
        current = self.tariff_at(meter_s)
        day0, sec = divmod(int(meter_s // 1), _DAY)
        minute0 = sec // 60
        for k in range(horizon_days + 1):
            ordinal = _EPOCH_ORDINAL + day0 + k
            day = dt.date.fromordinal(ordinal)
            sel = self.selection_for(day)
            starts: tuple[int, ...] = (0,)
            if sel.profile is not None:
                secs = self.profiles[sel.profile]
                starts += tuple(s.start_minute for s in secs if s.start_minute)
            for minute in starts:
                if k == 0 and minute <= minute0:
                    continue
                t = self._tariff_of(sel, minute)  # the day's selection, found once
                if t != current:
                    return (day0 + k) * _DAY + minute * 60, t
        return None


def _weekday(d: Any) -> int:
    if isinstance(d, int) and not isinstance(d, bool):
        n = d
    else:
        text = str(d).strip().lower()
        n = _WEEKDAY_NAMES.get(text[:3], 0) if not text.isdigit() else int(text)
    if n not in range(1, 8):
        raise TouError(f"weekend: day {d!r} is not an ISO weekday 1..7 or mon..sun")
    return n


def _parse_date(text: Any, where: str) -> dt.date:
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise TouError(f"{where}: date {text!r} is not YYYY-MM-DD") from None


def _section_from_obj(s: Any, where: str) -> Section:
    if isinstance(s, str):
        return _section_decode(s, where)
    if not isinstance(s, dict) or set(s) != {"start", "tariff"}:
        raise TouError(f"{where}: expected {{start: HH:MM, tariff: 1..4}}")
    return Section(_parse_hhmm(s["start"], where), _check_tariff(s["tariff"], where))


def _section_decode(text: str, where: str) -> Section:
    m = re.fullmatch(r"\s*(\d{1,2}:?\d{2})\s*=\s*(\d+)\s*", text)
    if not m:
        raise TouError(f"{where}: {text!r} is not HH:MM=T")
    return Section(_parse_hhmm(m.group(1), where), _check_tariff(int(m.group(2)), where))


def _season_decode(text: str, where: str) -> Season:
    m = re.fullmatch(r"\s*(\d{1,2}-\d{1,2})\s*=\s*([PTpt]\d+)\s*", text)
    if not m:
        raise TouError(f"{where}: {text!r} is not MM-DD=P<n> or MM-DD=T<n>")
    month, day = _parse_month_day(m.group(1), where)
    return Season(month, day, Selection.decode(m.group(2)))


def _holiday_decode(text: str, where: str) -> tuple[dt.date, Selection]:
    m = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})\s*=\s*([PTpt]\d+)\s*", text)
    if not m:
        raise TouError(f"{where}: {text!r} is not YYYY-MM-DD=P<n> or YYYY-MM-DD=T<n>")
    return _parse_date(m.group(1), where), Selection.decode(m.group(2))
