"""The A1000 OBIS map: ONE table from which the readout, R1 and W1 are derived.

Each ``ObisRow`` holds the address as the meter writes it, a description, the unit, the
source (manual / standard reference), a reader (``get``: meter -> value strings), an
optional writer (``put``: meter, values -> None; W1, needs programming state + P1) and
whether the row is in the data readout. Readable = has ``get``; writable = has ``put``.

Address conventions: the codes of the A1000 manual Appendix A exactly as written there
(``1-1:1.8.0``, ...); other electricity quantities follow IEC 62056-61 in the same
``1-1:`` form (standards.md 7); abstract objects use the reduced ASCII form of
standards.md 6.8 (``0.9.1``, ``C.1.0``, ``F.F``). Manufacturer-specific objects use the
C = 96 block 96.50..96.99 (``C.90.x`` TOU tables, ``C.91.x`` direction indicators) and
E = 128 (``C.2.128`` programmer number).

Part-2 quantities (demand, billing ``*101`` values, load profile, events, display) are
added through the same table: a component returns its rows from ``obis_rows()`` (see
``component.ComponentBase``); ``build_map`` appends them after the core rows. A row's
``get``/``put`` receive the meter, so a component finds itself with
``meter.component(name)``. The row type is in ``obis_rows``; ``obis_doc`` renders the map
for the README.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from meter.a1000.clock import meter_seconds_of
from meter.a1000.config import ConfigError, config_from_obj
from meter.a1000.obis_rows import (
    Getter,
    MeterModel,
    ObisMap,
    ObisRow,
    Putter,
    format_energy,
)
from meter.a1000.registers import ZERO
from meter.a1000.tou import TouError
from meter.iec62056_21.bank import RegisterError

# ---------------------------------------------------------------------- value formats


def _energy(quantities: tuple[str, ...], tariff: int) -> Getter:
    def get(m: MeterModel) -> tuple[str, ...]:
        v = sum((m.energy.value(q, tariff, m.now) for q in quantities), ZERO)
        return (format_energy(m, v),)

    return get


def _instant(fn: Callable[[MeterModel], float], fmt: str) -> Getter:
    return lambda m: (format(fn(m), fmt),)


def _stamp(meter_s: float | None) -> str:
    if meter_s is None:
        return "000000000000"
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=meter_s)).strftime("%y%m%d%H%M%S")


# ---------------------------------------------------------------------- writers


def _need(values: tuple[str, ...], n: int, what: str) -> tuple[str, ...]:
    if len(values) != n:
        raise RegisterError(f"{what}: {n} value(s) expected")
    return values


def _clock_writable(m: MeterModel) -> None:
    if "clock_rw" in m.conditions:  # ERR 2 bit 0x02 (meter.HARDWARE_CONDITIONS)
        raise RegisterError("CLOCK ERROR")


def _put_time(m: MeterModel, values: tuple[str, ...]) -> None:
    _clock_writable(m)
    (v,) = _need(values, 1, "time")
    mm = re.fullmatch(r"(\d{2}):?(\d{2}):?(\d{2})", v.strip())
    if not mm or int(mm.group(1)) > 23 or int(mm.group(2)) > 59 or int(mm.group(3)) > 59:
        raise RegisterError("time must be hhmmss")
    cur = m.meter_datetime()
    new = cur.replace(
        hour=int(mm.group(1)), minute=int(mm.group(2)), second=int(mm.group(3)), microsecond=0
    )
    m.set_clock(m.now, meter_seconds_of(new))


def _put_date(m: MeterModel, values: tuple[str, ...]) -> None:
    _clock_writable(m)
    (v,) = _need(values, 1, "date")
    mm = re.fullmatch(r"(\d{2})-?(\d{2})-?(\d{2})", v.strip())
    try:
        if not mm:
            raise ValueError
        day = dt.date(2000 + int(mm.group(1)), int(mm.group(2)), int(mm.group(3)))
    except ValueError:
        raise RegisterError("date must be YYMMDD") from None
    cur = m.meter_datetime()
    new = dt.datetime.combine(day, cur.time())
    m.set_clock(m.now, meter_seconds_of(new))


def _put_tou(kind: str, n: int = 0) -> Putter:
    def put(m: MeterModel, values: tuple[str, ...]) -> None:
        try:
            if kind == "profile":
                tables = m.tou.with_profile(n, values)
            elif kind == "seasons":
                tables = m.tou.with_seasons(values)
            elif kind == "weekend":
                tables = m.tou.with_weekend(values)
            else:
                tables = m.tou.with_holidays(values)
        except TouError as e:
            # The previous tables stay in force; the message names the rule broken.
            raise RegisterError(_short(str(e))) from None
        m.set_tou(m.now, tables)

    return put


def _short(text: str) -> str:
    """An error text the protocol can carry (<= 32 chars, no ( ) * / !)."""
    text = re.sub(r"[()*/!]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:32]


def _put_constant(kind: str) -> Putter:
    def put(m: MeterModel, values: tuple[str, ...]) -> None:
        (v,) = _need(values, 1, "constant")
        if not v.strip().isdigit() or int(v) <= 0:
            raise RegisterError("constant must be a positive integer")
        obj = m.config.to_obj()
        key = "active_imp_per_kwh" if kind == "active" else "reactive_imp_per_kvarh"
        obj["constants"][key] = int(v)
        try:
            config_from_obj(obj, "W1")
        except ConfigError:
            raise RegisterError("constant too high for 80 ms pulse") from None
        m.set_constant(m.now, kind, int(v))

    return put


def _put_identity(key: str) -> Putter:
    def put(m: MeterModel, values: tuple[str, ...]) -> None:
        (v,) = _need(values, 1, key)
        v = v.strip()
        if not v.isdigit() or len(v) > 12:
            raise RegisterError("number must be up to 12 digits")
        m.identity[key] = v.zfill(12)

    return put


def _put_programmer(m: MeterModel, values: tuple[str, ...]) -> None:
    (v,) = _need(values, 1, "programmer")
    v = v.strip()
    if not v.isdigit() or len(v) > 8:
        raise RegisterError("programmer must be up to 8 digits")
    m.programming.programmer = v


def _put_error_register(m: MeterModel, values: tuple[str, ...]) -> None:
    (v,) = _need(values, 1, "error register")
    if v.strip().strip("0") != "":
        raise RegisterError("only 0 clears the error register")
    m.clear_errors()


# ---------------------------------------------------------------------- the core rows

_QUANTITY_NAMES = {
    1: ("import",),
    2: ("export",),
    3: ("q1", "q2"),
    4: ("q3", "q4"),
    5: ("q1",),
    6: ("q2",),
    7: ("q3",),
    8: ("q4",),
    9: ("s_import",),
    10: ("s_export",),
}
_QUANTITY_TEXT = {
    1: "Active energy import (+A)",
    2: "Active energy export (-A)",
    3: "Reactive energy R+ (Q1+Q2)",
    4: "Reactive energy R- (Q3+Q4)",
    5: "Reactive energy Q1",
    6: "Reactive energy Q2",
    7: "Reactive energy Q3",
    8: "Reactive energy Q4",
    9: "Apparent energy S+ (QI+QIV)",
    10: "Apparent energy S- (QII+QIII)",
}
_UNITS = {1: "kWh", 2: "kWh", 9: "kVAh", 10: "kVAh"}


def core_rows() -> list[ObisRow]:
    rows: list[ObisRow] = []
    add = rows.append

    # Identification and header (manual display codes 011..014; standards.md 6.8).
    def ident(key: str) -> Getter:
        return lambda m: (m.identity[key],)

    add(ObisRow("C.1.0", "Meter number (manufacturing number)", None,
                "manual 2.1.2 code 011; standards.md 7.1", ident("meter_number"),
                _put_identity("meter_number"), True))
    add(ObisRow("0.0.0", "User number (ownership number)", None,
                "manual code 012; standards.md 7.1 0.0.0", ident("user_number"),
                _put_identity("user_number"), True))
    add(ObisRow("0.0.1", "Device number", None, "manual code 013; standards.md 7.1 0.0.1..9",
                ident("device_number"), _put_identity("device_number"), True))
    add(ObisRow("0.0.2", "Bureau number", None, "manual code 014; standards.md 7.1 0.0.1..9",
                ident("bureau_number"), _put_identity("bureau_number"), True))
    add(ObisRow("0.2.0", "Firmware identifier", None, "standards.md 7.1",
                lambda m: (m.config.identity.firmware,)))
    add(ObisRow("F.F", "Error register: ERR 1 (high byte) and ERR 2 (low byte), hex; "
                "W1 0 clears latched bits", None,
                "manual Appendix B; standards.md 6.8", lambda m: (f"{m.error_register:08X}",),
                _put_error_register, True))
    add(ObisRow("F.F.1", "ERR 1 warning information (8 bits)", None, "manual Appendix B",
                lambda m: (f"{m.err1:08b}",), None, True))
    add(ObisRow("F.F.2", "ERR 2 error information (8 bits; 00000100 = EEPROM)", None,
                "manual Appendix B", lambda m: (f"{m.err2:08b}",), None, True))

    # Clock (manual 3.2.3, display code 020 and Date/Time).
    add(ObisRow("0.9.1", "Meter time hhmmss", None, "manual 2.1.2 Time; standards.md 7.1",
                lambda m: (m.meter_datetime().strftime("%H%M%S"),), _put_time, True))
    add(ObisRow("0.9.2", "Meter date YYMMDD", None, "manual 2.1.2 Date; standards.md 7.1",
                lambda m: (m.meter_datetime().strftime("%y%m%d"),), _put_date, True))
    add(ObisRow("0.9.5", "Weekday 1 (Mon) .. 7 (Sun)", None, "manual code 020; standards.md 7.1",
                lambda m: (str(m.meter_datetime().isoweekday()),), None, True))

    # Meter constants (manual 2.1.2 Meter Constant).
    add(ObisRow("0.3.0", "Active meter constant (imp/kWh; a unit may not hold /)", "imp-kWh",
                "manual 2.1.2 imp/kWh; standards.md 7.1",
                lambda m: (str(m.constants["active"]),), _put_constant("active"), True))
    add(ObisRow("0.3.1", "Reactive meter constant (imp/kvarh)", "imp-kvarh",
                "manual 2.1.2 imp/kvarh; standards.md 7.1",
                lambda m: (str(m.constants["reactive"]),), _put_constant("reactive"), True))

    # Energy registers: Appendix A codes exactly as written there, then the others.
    for c in (1, 2, 5, 6, 7, 8):
        unit = _UNITS.get(c, "kvarh")
        add(ObisRow(f"1-1:{c}.8.0", f"Total {_QUANTITY_TEXT[c].lower()}", unit,
                    "manual Appendix A", _energy(_QUANTITY_NAMES[c], 0), None, True))
    for c in (1, 2, 5, 6, 7, 8):
        unit = _UNITS.get(c, "kvarh")
        for e in (1, 2, 3, 4):
            add(ObisRow(f"1-1:{c}.8.{e}", f"{_QUANTITY_TEXT[c]} in F{e}", unit,
                        "manual Appendix A", _energy(_QUANTITY_NAMES[c], e), None, True))
    for c in (3, 4, 9, 10):
        unit = _UNITS.get(c, "kvarh")
        for e in (0, 1, 2, 3, 4):
            what = "total" if e == 0 else f"F{e}"
            add(ObisRow(f"1-1:{c}.8.{e}", f"{_QUANTITY_TEXT[c]}, {what}", unit,
                        "manual 1.1 item 3-4; standards.md 2.2, 7.1",
                        _energy(_QUANTITY_NAMES[c], e)))

    add(ObisRow("C.14.0", "Tariff in force 1..4", None, "manual 1.4; standards.md 4.3",
                lambda m: (str(m.tariff),)))

    # Instantaneous values (manual 1.3, display codes 04, 06, 07; standards.md 7.1).
    def ph(k: int, attr: str, scale: float = 1.0) -> Callable[[MeterModel], float]:
        return lambda m: getattr(m.measurements.phases[k], attr) * scale

    def pos(fn: Callable[[MeterModel], float]) -> Callable[[MeterModel], float]:
        return lambda m: max(fn(m), 0.0)

    def neg(fn: Callable[[MeterModel], float]) -> Callable[[MeterModel], float]:
        return lambda m: max(-fn(m), 0.0)

    for k in range(3):
        ln, base = f"L{k + 1}", 20 * (k + 1)  # L1 = C+20, L2 = C+40, L3 = C+60 (standards.md 7)
        p, q = ph(k, "p", 1e-3), ph(k, "q", 1e-3)
        src = "manual 1.3, code 04x; standards.md 7.1"
        add(ObisRow(f"1-1:{base + 12}.7.0", f"Voltage {ln} (3P3W: element voltage)", "V",
                    "manual 1.3; standards.md 7.1", _instant(ph(k, "voltage"), ".2f")))
        add(ObisRow(f"1-1:{base + 11}.7.0", f"Current {ln}", "A", "manual 1.3; standards.md 7.1",
                    _instant(ph(k, "current"), ".4f")))
        add(ObisRow(f"1-1:{base + 1}.7.0", f"Active power {ln} import", "kW", src,
                    _instant(pos(p), ".5f")))
        add(ObisRow(f"1-1:{base + 2}.7.0", f"Active power {ln} export", "kW", src,
                    _instant(neg(p), ".5f")))
        add(ObisRow(f"1-1:{base + 16}.7.0", f"Active power {ln}, signed (+ import)", "kW", src,
                    _instant(p, ".5f")))
        add(ObisRow(f"1-1:{base + 3}.7.0", f"Reactive power {ln} R+ (inductive)", "kvar", src,
                    _instant(pos(q), ".5f")))
        add(ObisRow(f"1-1:{base + 4}.7.0", f"Reactive power {ln} R- (capacitive)", "kvar", src,
                    _instant(neg(q), ".5f")))
        add(ObisRow(f"1-1:{base + 9}.7.0", f"Apparent power {ln}", "kVA", src,
                    _instant(ph(k, "s", 1e-3), ".5f")))
        add(ObisRow(f"1-1:{base + 13}.7.0", f"Power factor {ln}, signed", None,
                    "manual 1.3 item 1; standards.md 7.1", _instant(ph(k, "pf"), ".3f")))

    def tot_p(m: MeterModel) -> float:
        return m.measurements.p * 1e-3

    def tot_q(m: MeterModel) -> float:
        return m.measurements.q * 1e-3

    src = "manual 1.3 item 2, code 040; standards.md 7.1"
    add(ObisRow("1-1:1.7.0", "Total active power import", "kW", src, _instant(pos(tot_p), ".5f")))
    add(ObisRow("1-1:2.7.0", "Total active power export", "kW", src, _instant(neg(tot_p), ".5f")))
    add(ObisRow("1-1:16.7.0", "Total active power, signed (+ import)", "kW", src,
                _instant(tot_p, ".5f")))
    add(ObisRow("1-1:3.7.0", "Total reactive power R+ (inductive)", "kvar", src,
                _instant(pos(tot_q), ".5f")))
    add(ObisRow("1-1:4.7.0", "Total reactive power R- (capacitive)", "kvar", src,
                _instant(neg(tot_q), ".5f")))
    add(ObisRow("1-1:9.7.0", "Total apparent power", "kVA", src,
                _instant(lambda m: m.measurements.s * 1e-3, ".5f")))
    add(ObisRow("1-1:13.7.0", "Total power factor, signed", None, "manual 1.3; standards.md 7.1",
                _instant(lambda m: m.measurements.pf, ".3f")))
    add(ObisRow("1-1:14.7.0", "Frequency", "Hz", "manual code 060; standards.md 7.1",
                _instant(lambda m: m.measurements.frequency if m.powered else 0.0, ".2f")))
    add(ObisRow("C.91.0", "Active energy direction indicator (+ import, - export)", None,
                "manual 2.1.2 3.4", lambda m: (m.measurements.active_direction,)))
    add(ObisRow("C.91.1", "Reactive energy direction indicator (+ inductive, - capacitive)",
                None, "manual 2.1.2 3.4", lambda m: (m.measurements.reactive_direction,)))
    add(ObisRow("C.91.2", "Quadrant 1..4 of the total (P, Q)", None, "standards.md 2.1",
                lambda m: (str(m.measurements.quadrant),)))

    # TOU tables (manual 1.4; display code 90).
    def profile(n: int) -> Getter:
        return lambda m: m.tou.encode_profile(n) or ("",)

    for n in (1, 2, 3, 4):
        add(ObisRow(f"C.90.{n}", f"Daily profile {n}: sections HH:MM=T", None,
                    "manual 1.4 items 3, 7, 8; code 900", profile(n), _put_tou("profile", n)))
    add(ObisRow("C.90.5", "Seasons: MM-DD=P<profile> or =T<tariff>", None,
                "manual 1.4 items 6, 9; code 901", lambda m: m.tou.encode_seasons(),
                _put_tou("seasons")))
    add(ObisRow("C.90.6", "Weekend: (ISO weekday digits)(P<profile> or T<tariff>)", None,
                "manual 1.4 item 5", lambda m: m.tou.encode_weekend(), _put_tou("weekend")))
    add(ObisRow("C.90.7", "Public holidays: YYYY-MM-DD=P<n> or =T<n>", None,
                "manual 1.4 item 4", lambda m: m.tou.encode_holidays() or ("",),
                _put_tou("holidays")))

    # Programming records (manual 2.2.1, display codes 032..034; standards.md 7.1).
    add(ObisRow("C.2.0", "Programming count", None, "manual code 033; standards.md 7.1",
                lambda m: (str(m.programming.count),)))
    add(ObisRow("C.2.1", "Date and time of last programming YYMMDDhhmmss", None,
                "manual code 032; standards.md 7.1",
                lambda m: (_stamp(m.programming.last_programmed_meter_s),)))
    add(ObisRow("C.2.2", "Date and time of last TOU table change", None, "standards.md 7.1",
                lambda m: (_stamp(m.last_tou_change_meter_s),)))
    add(ObisRow("C.2.12", "Date and time of last clock setting", None, "standards.md 7.1",
                lambda m: (_stamp(m.last_clock_set_meter_s),)))
    add(ObisRow("C.2.128", "Programmer number", None, "manual code 034 (manufacturer-specific E)",
                lambda m: (m.programming.programmer,), _put_programmer))
    return rows


def build_map(meter: MeterModel) -> ObisMap:
    """Core rows followed by each component's ``obis_rows()`` (the part-2 extension point)."""
    rows = core_rows()
    for c in meter.components:
        extra = getattr(c, "obis_rows", None)
        if extra is not None:
            rows.extend(extra())
    return ObisMap(rows)
