"""Transcript tests of the ZERA COM5003 / MT310s2 driver, built from ZERA's own material.

"The dump": ZeraGmbH/zera-classes @618fe79f, modules/scpimodule/tests/test-data/scpi-dumps/
dumped-all-queries-in-one-transaction (an MT310s2 session answering every query; the replies
below are copied from it). Other facts name their file in zera-classes (docs/dialects.md 3).
"""

import pytest

from rig.instruments.ecgroup import ECGroup
from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.roles import ECResult, ECState, ECStatus, ErrorCalculator, Quantity
from rig.instruments.testing import Fail, FailWrite, expected_protocol
from rig.instruments.zera_com5003 import (
    ZeraCom5003,
    ZeraMt310s2,
    ec_state,
    parse_items,
    release_date,
)

OK = "+0,No error"
E1, E2 = "CALCULATE:EC01:0001:", "CALCULATE:EC01:0002:"
#: *IDN? of the dump, and of firmware answering several queries in query order (2026-07 on).
IDN_DUMP = "ZERA GmbH Koenigswinter, MT310s2, Unknown, unknokwn-release"
IDN_NEW = "ZERA GmbH Koenigswinter, COM5003, 050012345, release-2026-07-28"
IDN_OLD = "ZERA GmbH Koenigswinter, COM5003, 050012345, release-2026-05-12"

# The dump's replies to the queries read() sends.
DUMP_READ = [
    (
        "MEASURE:RMS1?",
        "RMS1:UL1:[V]:230;RMS1:UL2:[V]:230;RMS1:UL3:[V]:230;RMS1:UL1-UL2:[V]:398.37167;"
        "RMS1:UL3-UL2:[V]:398.37167;RMS1:UL3-UL1:[V]:398.37167;RMS1:IL1:[A]:10;RMS1:IL2:[A]:10;"
        "RMS1:IL3:[A]:10;RMS1:UAUX:[V]:230;RMS1:IAUX:[A]:10;",
    ),
    (
        "MEASURE:DFT1?",
        "DFT1:UL1:[V]:325.26913,0;DFT1:U1:[V]:325.26913,0,0;DFT1:UL2:[V]:-162.63457,281.69131;"
        "DFT1:U2:[V]:325.26912,2.0943951,120;DFT1:UL3:[V]:-162.63457,-281.69131;"
        "DFT1:U3:[V]:325.26912,4.1887902,240;DFT1:UL1-UL2:[V]:487.90369,-281.69131;"
        "DFT1:U1U2:[V]:563.38264,5.7595865,330;DFT1:UL3-UL2:[V]:0,-563.38263;"
        "DFT1:U3U2:[V]:563.38263,4.712389,270;DFT1:UL3-UL1:[V]:-487.90369,-281.69131;"
        "DFT1:U3U1:[V]:563.38264,3.6651914,210;DFT1:IL1:[A]:14.142136,0;"
        "DFT1:I1:[A]:14.142136,0,0;DFT1:IL2:[A]:-7.0710678,12.247449;"
        "DFT1:I2:[A]:14.142136,2.0943951,120;DFT1:IL3:[A]:-7.0710678,-12.247449;"
        "DFT1:I3:[A]:14.142136,4.1887902,240;DFT1:UAUX:[V]:325.26913,0;DFT1:U4:[V]:325.26913,0,0;"
        "DFT1:IAUX:[A]:14.142136,0;DFT1:I4:[A]:14.142136,0,0;DFT1:RFIELD:[]:123;",
    ),
    ("MEASURE:POW1?", "POW1:P1:[W]:2300;POW1:P2:[W]:2300;POW1:P3:[W]:2300;POW1:PS:[W]:6900;"),
    (
        "MEASURE:POW2?",
        "POW2:Q1:[Var]:2300;POW2:Q2:[Var]:2300;POW2:Q3:[Var]:2300;POW2:QS:[Var]:6900;",
    ),
    ("MEASURE:POW3?", "POW3:S1:[VA]:2300;POW3:S2:[VA]:2300;POW3:S3:[VA]:2300;POW3:SS:[VA]:6900;"),
    ("MEASURE:LAM1?", "LAM1:Lambda4:[]:1;LAM1:Lambda1:[]:1;LAM1:Lambda2:[]:1;LAM1:Lambda3:[]:1;"),
    ("MEASURE:RNG1:F?", "RNG1:F:[Hz]:50;"),
]


def w(command):
    return [(command, None), ("SYSTEM:ERROR?", OK)]


def opened(idn=IDN_OLD):
    """initialise(): *IDN? and an empty error queue."""
    return [("*IDN?", idn), ("SYSTEM:ERROR?", OK)]


def configured(p, source="SC1", ref="P", constant="10000", unit="I/kWh", pulses=100, cont=0):
    """The exchanges of a configure that sends every setting, in the driver's order."""
    return (
        w(f"{p}DUTSOURCE {source};")
        + w(f"{p}REFSOURCE {ref};")
        + w(f"{p}DUTCONSTANT {constant};")
        + w(f"{p}DCUNIT {unit};")
        + w(f"{p}MRATE {pulses};")
        + w(f"{p}CONTINUOUS {cont};")
    )


def batch(*lines):
    """One pipelined write: the lines joined, as the driver sends them."""
    return "\n".join(lines)


def test_pipelining_follows_the_firmware_release_or_the_bench_option():
    assert release_date(IDN_DUMP) is None and release_date(IDN_NEW) == (2026, 7)
    with expected_protocol(ZeraCom5003, opened(IDN_DUMP)) as ref:
        ref.initialise()
        assert ref.pipeline is False  # release unknown: one query per exchange
    with expected_protocol(ZeraCom5003, opened(IDN_NEW)) as ref:
        ref.initialise()
        assert ref.pipeline is True
    with expected_protocol(ZeraCom5003, opened(IDN_NEW), pipeline=False) as ref:
        ref.initialise()
        assert ref.pipeline is False
    with expected_protocol(ZeraCom5003, opened(IDN_DUMP), pipeline=True) as ref:
        ref.initialise()  # the lab says so: a release the driver cannot date is its call
        assert ref.pipeline is True
    with (
        expected_protocol(ZeraCom5003, [("*IDN?", IDN_OLD)], pipeline=True) as ref,
        pytest.raises(InstrumentError, match="before 2026-07"),
    ):
        ref.initialise()


def test_initialise_clears_old_errors():
    transcript = [
        ("*IDN?", IDN_OLD),
        ("SYSTEM:ERROR?", "-100,Command error"),
        ("SYSTEM:ERROR?", OK),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ref.initialise()


def test_read_the_dump_replies():
    with expected_protocol(ZeraMt310s2, DUMP_READ) as ref:
        r = ref.read()
    ph1, ph2, ph3 = r.phases
    assert (ph1.voltage, ph1.current, ph2.voltage) == (230, 10, 230)
    # The dump's U2 at +120 deg, U3 at 240 (ZERA's sequence) are -120 and +120 in ours.
    assert (ph1.voltage_angle, ph2.voltage_angle, ph3.voltage_angle) == (0, -120, 120)
    assert (ph1.current_angle, ph2.current_angle, ph3.current_angle) == (0, -120, 120)
    assert (ph1.p, ph1.q, ph1.s, ph1.pf) == (2300, 2300, 2300, 1)
    assert (r.p, r.q, r.s, r.pf, r.frequency) == (6900, 6900, 6900, 1, 50)


def test_read_pipelined_is_one_exchange_and_a_missing_item_names_its_query():
    commands = [c for c, _ in DUMP_READ]
    replies = [r for _, r in DUMP_READ]
    broken = [*replies[:3], "POW2:P1:[Var]:1;", *replies[4:]]  # the old labels
    transcript = [(batch(*commands), replies), (batch(*commands), broken)]
    with expected_protocol(ZeraCom5003, transcript, pipeline=True) as ref:
        assert ref.read().q == 6900
        with pytest.raises(InstrumentError, match=r"MEASURE:POW2\?.*no Q1"):
            ref.read()


def test_set_mode_uses_each_power_modules_catalog():
    transcript = (
        w("CONFIGURATION:POW1:MMODE 4LW;")
        + w("CONFIGURATION:POW2:MMODE 4LB;")
        + w("CONFIGURATION:POW3:MMODE 4LS;")
        + [("CONFIGURATION:POW1:M0CONSTANT?", "5e+08")]
        + w("CONFIGURATION:POW1:MMODE 3LW;")
        + w("CONFIGURATION:POW2:MMODE 3LB;")
        + w("CONFIGURATION:POW3:MMODE 3LS;")
        + [("CONFIGURATION:POW2:M0CONSTANT?", "2.5e+08")]
    )
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ref.set_mode("3P4W", Quantity.ACTIVE)
        assert ref.reference_constant() == 5e8
        ref.set_mode("3P3W", Quantity.REACTIVE)  # reactive: POW2's output, POW1 stays active
        assert ref.reference_constant() == 2.5e8
        with pytest.raises(SettingError):
            ref.mode = "4LB"  # not in POW1's catalog 4LW;3LW;2LW (the dump)
    mt = w("CONFIGURATION:POW1:MMODE 3LW;") + w("CONFIGURATION:POW2:MMODE 3LB;")
    with expected_protocol(ZeraMt310s2, mt + w("CONFIGURATION:POW3:MMODE 4LS;")) as ref:
        ref.set_mode("3P3W", Quantity.ACTIVE)  # MT310s2 POW3: 4LS;4LSg;2LS;2LSg (the dump)


def test_error_calculators_of_each_model():
    with expected_protocol(ZeraCom5003, []) as ref:
        ec = ref.error_calculator(1, "SC1", 1)
        assert isinstance(ec, ErrorCalculator)
        assert ec.setting_commands(10000, 10, Quantity.ACTIVE)[:2] == [
            "CALCULATE:EC01:0001:DUTSOURCE SC1;",
            "CALCULATE:EC01:0001:REFSOURCE P;",
        ]
        assert ref.error_calculator(2, "Fin3", 2).param_query("STATUS") == E2 + "STATUS?"
        with pytest.raises(InstrumentError, match="2 error calculator"):
            ref.error_calculator(3, "Fin1", 3)
        with pytest.raises(InstrumentError, match="no input 'fi0'"):
            ref.error_calculator(3, "fi0", 1)
        with pytest.raises(InstrumentError, match="already serves position 1"):
            ref.error_calculator(4, "HK1", 1)
    assert ZeraMt310s2.error_calculator_inputs == (("SC1", "HK1"),)
    with expected_protocol(ZeraMt310s2, []) as mt, pytest.raises(InstrumentError, match="1 error"):
        mt.error_calculator(2, "Fin1", 2)


def test_status_is_a_bit_field():
    # ARMED 1, STARTED 2, READY 4, ABORT 8, WAIT 2^30 (zenux-services secinterface.h); READY
    # stays set in continuous mode (6) and while re-armed (5) (sec1modulemeasprogram.cpp).
    assert [ec_state(c) for c in (0, 1, 2, 4, 5, 6, 8, 12, 4 | 2**30)] == [
        ECState.IDLE,
        ECState.WAITING,
        ECState.RUNNING,
        ECState.READY,
        ECState.WAITING,
        ECState.RUNNING,
        ECState.ABORTED,
        ECState.ABORTED,
        ECState.RUNNING,
    ]


def test_status_reads_the_dumps_idle_calculator():
    # The dump: STATUS 0, PROGRESS 0, RESULT 0, TARGET 500000, ENERGY 0, REFCONSTANT 5e+08,
    # MEASNUM 0.
    replies = ["0", "0", "0", "500000", "0", "5e+08", "0"]
    params = ["STATUS", "PROGRESS", "RESULT", "TARGET", "ENERGY", "REFCONSTANT", "MEASNUM"]
    transcript = [(E1 + q + "?", r) for q, r in zip(params, replies, strict=True)]
    with expected_protocol(ZeraMt310s2, transcript) as ref:
        status = ref.error_calculator(1, "SC1", 1).status()
    assert status == ECStatus(ECState.IDLE, 0.0, None, 500000, 0, 0)


def test_result_counts_come_from_target_and_error_not_pulses():
    # RESULT = (TARGET - counted) * 100 / counted (sec1modulemeasprogram.cpp setECResult), so
    # counted = 500000 / (1 + 0.5/100) = 497512.44 -> 497512. PULSES? is the DUT's count.
    transcript = [(E1 + "RESULT?", "0.5"), (E1 + "TARGET?", "500000")]
    transcript += [(E1 + "RESULT?", "nan"), (E1 + "TARGET?", "500000")]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(1, "SC1", 1)
        assert ec.result() == ECResult(0.5, 497512)
        with pytest.raises(InstrumentError, match="no result"):
            ec.result()  # no reference pulse counted: the firmware's NaN


def test_configure_start_abort_and_a_refusal():
    transcript = (
        configured(E2, source="Fin1")
        + w(E2 + "START 1;")
        + [(E2 + "STATUS?", "1")]
        + w(E2 + "START 1;")  # the same point again: nothing but START
        + w(E2 + "REFSOURCE Q;")  # reactive: reference source and unit only
        + w(E2 + "DCUNIT I/kVarh;")
        + w(E2 + "START 0;")
        + [(E2 + "MRATE 7;", None), ("SYSTEM:ERROR?", "-120,Numeric data error")]
        + [("SYSTEM:ERROR?", OK)]
    )
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(2, "Fin1", 2)
        ec.configure(10000, 100, Quantity.ACTIVE)
        ec.start()
        assert ec.state() is ECState.WAITING
        ec.configure(10000.0, 100, Quantity.ACTIVE)
        ec.start()
        ec.configure(10000, 100, Quantity.REACTIVE)
        ec.abort()
        with pytest.raises(InstrumentError, match=r"MRATE 7;.*-120,Numeric data error"):
            ec.pulses = 7


def test_a_refused_setting_forgets_the_rest_and_reconnect_forgets_too():
    transcript = [
        *configured(E1),
        (E1 + "MRATE 7;", None),
        ("SYSTEM:ERROR?", "-120,Numeric data error"),
        ("SYSTEM:ERROR?", OK),
        *configured(E1, pulses=7),  # after an error everything is written again
        (E1 + "STATUS?", Fail(ConnectionResetError("reset"))),
        (E1 + "STATUS?", "2"),
        *configured(E1, pulses=7),  # the retry went over a new connection
        (E1 + "MRATE 5;", FailWrite(ConnectionResetError("reset"))),
        *w(E1 + "MRATE 5;"),
        *w(E1 + "DUTSOURCE SC1;"),  # only MRATE 5 is known to be held now
        *w(E1 + "REFSOURCE P;"),
        *w(E1 + "DUTCONSTANT 10000;"),
        *w(E1 + "DCUNIT I/kWh;"),
        *w(E1 + "CONTINUOUS 0;"),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(1, "SC1", 1)
        ec.configure(10000, 100, Quantity.ACTIVE)
        with pytest.raises(InstrumentError, match="-120"):
            ec.configure(10000, 7, Quantity.ACTIVE)
        ec.configure(10000, 7, Quantity.ACTIVE)
        assert ec.state() is ECState.RUNNING
        ec.configure(10000, 7, Quantity.ACTIVE)
        ec.pulses = 5
        ec.configure(10000, 5, Quantity.ACTIVE)


def test_two_calculators_in_one_transaction_per_step():
    def settings(p, source):
        return [f"{p}DUTSOURCE {source};", p + "REFSOURCE P;", p + "DUTCONSTANT 1000;",
                p + "DCUNIT I/kWh;", p + "MRATE 20;", p + "CONTINUOUS 0;"]

    def checked(lines):
        return [x for line in lines for x in (line, "SYSTEM:ERROR?")]

    transcript = [
        *opened(IDN_NEW),
        (batch(*checked(settings(E1, "SC1") + settings(E2, "Fin1"))), [OK] * 12),
        (batch(*checked([E1 + "START 1;", E2 + "START 1;"])), [OK, OK]),
        (batch(E1 + "STATUS?", E2 + "STATUS?"), ["2", "4"]),
        (batch(E1 + "RESULT?", E1 + "TARGET?", E2 + "RESULT?", E2 + "TARGET?"),
         ["0.25", "20000", "-0.1", "20000"]),
        (batch(*checked([E1 + "START 1;", E2 + "START 1;"])), [OK, "-200,Execution error"]),
        ("SYSTEM:ERROR?", OK),
    ]
    with expected_protocol(ZeraCom5003, transcript, name="reference") as ref:
        ref.initialise()
        ecs = {1: ref.error_calculator(1, "SC1", 1), 2: ref.error_calculator(2, "Fin1", 2)}
        group = ECGroup(ecs)
        group.configure(1000, 20, Quantity.ACTIVE)
        group.start()
        assert group.states() == {1: ECState.RUNNING, 2: ECState.READY}
        # 20000 / 1.0025 = 19950.12 -> 19950; 20000 / 0.999 = 20020.02 -> 20020
        assert group.results() == {1: ECResult(0.25, 19950), 2: ECResult(-0.1, 20020)}
        with pytest.raises(InstrumentError, match=r"EC01:0002:START 1;.*-200"):
            group.start()


def test_old_firmware_sends_one_command_per_exchange():
    transcript = [
        *opened(IDN_OLD),
        (E1 + "STATUS?", "1"),
        (E2 + "STATUS?", "8"),
        *w(E1 + "START 0;"),
        *w(E2 + "START 0;"),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ref.initialise()
        ecs = [ref.error_calculator(1, "SC1", 1), ref.error_calculator(2, "Fin1", 2)]
        assert ref.states_of(ecs) == [ECState.WAITING, ECState.ABORTED]
        ref.abort_many(ecs)


def test_energy_register_sets_manual_stop_before_starting():
    # EM01's default MODE 1 stops after MTIME = 120 s (the dump: MODE? 1, MTIME? 120); a dosage
    # lasts hours, so start() sets MODE 0 first (sem1modulemeasprogram.cpp PAR_Targeted).
    p = "CALCULATE:EM01:0001:"
    transcript = (
        w(p + "MODE 0;")
        + w(p + "REFSOURCE P;")
        + w(p + "TXUNIT kWh;")
        + w(p + "START 1;")
        + [(p + "STATUS?", "2"), (p + "ENERGY?", "0.0125")]
        + w(p + "START 0;")
        + [(p + "STATUS?", "4"), (p + "ENERGY?", "1.725")]
        + w(p + "START 1;")  # a second dosage: the settings are held
    )
    with expected_protocol(ZeraCom5003, transcript) as ref:
        em = ref.energy_register()
        em.start()
        assert em.running() and em.energy() == 0.0125
        em.stop()
        assert not em.running() and em.energy() == 1.725
        em.start()


def test_parse_items_rejects_garbage():
    assert parse_items("RNG1:F:[Hz]:50;") == {"F": ("Hz", "50")}
    with pytest.raises(ValueError, match="MODULE:LABEL"):
        parse_items("garbage;")
