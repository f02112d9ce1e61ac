"""Transcript tests of the ZERA COM5003 driver: reference, ECs, energy (docs/dialects.md 3)."""

import pytest

from rig.instruments.ecgroup import ECGroup
from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.roles import ECResult, ECState, ErrorCalculator, Quantity
from rig.instruments.testing import Fail, FailWrite, expected_protocol
from rig.instruments.zera_com5003 import ZeraCom5003, parse_items

OK = "+0,No error"


def w(command):
    return [(command, None), ("SYSTEM:ERROR?", OK)]


def configured(p, source="fi1", constant="10000", unit="I/kWh", pulses=100, continuous=0):
    """The exchanges of a configure that sends every setting (docs/dialects.md 3, in order)."""
    return (
        w(f"{p}DUTSOURCE {source};")
        + w(p + "REFSOURCE fo0;")
        + w(f"{p}DUTCONSTANT {constant};")
        + w(f"{p}DCUNIT {unit};")
        + w(f"{p}MRATE {pulses};")
        + w(f"{p}CONTINUOUS {continuous};")
    )


READ_TRANSCRIPT = [
    (
        "MEASURE:RMS1?",
        "RMS1:UL1:[V]:230;RMS1:UL2:[V]:231;RMS1:UL3:[V]:229;"
        "RMS1:IL1:[A]:5;RMS1:IL2:[A]:5.1;RMS1:IL3:[A]:4.9;RMS1:UL1-UL2:[V]:398;",
    ),
    (
        "MEASURE:DFT1?",
        "DFT1:UL1:[V]:325.269,0;DFT1:UL2:[V]:326.7,-120;DFT1:UL3:[V]:323.8,120;"
        "DFT1:IL1:[A]:7.071,-60;DFT1:IL2:[A]:7.2,180;DFT1:IL3:[A]:6.9,60;",
    ),
    ("MEASURE:POW1?", "POW1:P1:[W]:575;POW1:P2:[W]:589.05;POW1:P3:[W]:561.05;POW1:PS:[W]:1725.1;"),
    (
        "MEASURE:POW2?",
        "POW2:P1:[var]:995.9;POW2:P2:[var]:1020;POW2:P3:[var]:971.8;POW2:PS:[var]:2987.7;",
    ),
    (
        "MEASURE:POW3?",
        "POW3:P1:[VA]:1150;POW3:P2:[VA]:1178.1;POW3:P3:[VA]:1122.1;POW3:PS:[VA]:3450.2;",
    ),
    (
        "MEASURE:LAM1?",
        "LAM1:LAMBDA1:[]:0.5;LAM1:LAMBDA2:[]:0.5;LAM1:LAMBDA3:[]:0.5;LAM1:LAMBDAS:[]:0.5;",
    ),
    ("MEASURE:RNG1:F?", "RNG1:F:[Hz]:50.01;"),
]


def test_identify_and_initialise_clears_old_errors():
    transcript = [
        ("*IDN?", "ZERA GmbH Koenigswinter, COM5003, 050012345, V1.02"),
        ("SYSTEM:ERROR?", "-113,Undefined header"),
        ("SYSTEM:ERROR?", OK),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ref.initialise()


def test_set_mode_four_wire_active_and_three_wire_reactive():
    transcript = (
        w("CONFIGURATION:POW1:MMODE 4LW;")
        + w("CONFIGURATION:POW2:MMODE 4LB;")
        + w("CONFIGURATION:POW3:MMODE 4LS;")
        + w("CONFIGURATION:POW1:MMODE 3LB;")
        + w("CONFIGURATION:POW2:MMODE 3LB;")
        + w("CONFIGURATION:POW3:MMODE 3LS;")
        + [("CONFIGURATION:POW1:MMODE?", "3LB")]
    )
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ref.set_mode("3P4W", Quantity.ACTIVE)
        ref.set_mode("3P3W", Quantity.REACTIVE)
        assert ref.mode == "3LB"


def test_reference_constant():
    with expected_protocol(ZeraCom5003, [("CONFIGURATION:POW1:M0CONSTANT?", "5e8")]) as ref:
        assert ref.reference_constant() == 5e8


def test_read_all_quantities():
    with expected_protocol(ZeraCom5003, READ_TRANSCRIPT) as ref:
        r = ref.read()
    assert r.frequency == 50.01
    assert (r.p, r.q, r.s, r.pf) == (1725.1, 2987.7, 3450.2, 0.5)
    l2 = r.phases[1]
    assert (l2.voltage, l2.current, l2.voltage_angle, l2.current_angle) == (231, 5.1, -120, 180)
    assert (l2.p, l2.q, l2.s, l2.pf) == (589.05, 1020, 1178.1, 0.5)


def test_read_in_reactive_mode_derives_active_power_from_s_and_lambda():
    transcript = [
        pair
        if pair[0] != "MEASURE:POW1?"
        else ("MEASURE:POW1?", "POW1:P1:[var]:1;POW1:P2:[var]:1;POW1:P3:[var]:1;POW1:PS:[var]:3;")
        for pair in READ_TRANSCRIPT
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        r = ref.read()
    assert r.phases[0].p == pytest.approx(575.0)
    assert r.p == pytest.approx(1725.1)


def test_read_missing_item_raises_naming_command():
    transcript = [
        READ_TRANSCRIPT[0],
        ("MEASURE:DFT1?", "DFT1:UL1:[V]:325,0;"),
        *READ_TRANSCRIPT[2:],
    ]
    with (
        expected_protocol(ZeraCom5003, transcript) as ref,
        pytest.raises(InstrumentError, match=r"MEASURE:DFT1\?.*no IL1"),
    ):
        ref.read()


def test_parse_items_rejects_garbage():
    with pytest.raises(ValueError, match="not MODULE:LABEL"):
        parse_items("230;")


def test_error_calculator_configure_start_status_abort():
    p = "CALCULATE:EC02:0001:"
    transcript = [
        *configured(p),
        (p + "REFCONSTANT?", "500000000"),
        *w(p + "START 1;"),
        (p + "STATUS?", "2"),
        (p + "PROGRESS?", "37.5"),
        (p + "RESULT?", "0"),
        (p + "TARGET?", "5000000"),
        (p + "PULSES?", "1875000"),
        (p + "MEASNUM?", "0"),
        (p + "STATUS?", "4"),
        (p + "PROGRESS?", "100"),
        (p + "RESULT?", "-0.0123"),
        (p + "TARGET?", "5000000"),
        (p + "PULSES?", "5000615"),
        (p + "MEASNUM?", "1"),
        *w(p + "START 0;"),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(2)
        assert isinstance(ec, ErrorCalculator)
        ec.configure(10000, 100, Quantity.ACTIVE)
        assert ec.reference_constant() == 5e8
        ec.start()
        running = ec.status()
        assert (running.state, running.progress, running.error) == (ECState.RUNNING, 37.5, None)
        done = ec.status()
        assert done.state is ECState.READY
        assert (done.error, done.target, done.reference_counts, done.measurements) == (
            -0.0123,
            5000000,
            5000615,
            1,
        )
        ec.abort()


def test_error_calculator_reactive_continuous_with_explicit_input_and_fractional_constant():
    p = "CALCULATE:EC01:0001:"
    transcript = (
        w(p + "DUTSOURCE sh0;")
        + w(p + "REFSOURCE fo0;")
        + w(p + "DUTCONSTANT 1000.5;")
        + w(p + "DCUNIT I/kVarh;")
        + w(p + "MRATE 20;")
        + w(p + "CONTINUOUS 1;")
    )
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ref.error_calculator(1, "sh0").configure(1000.5, 20, Quantity.REACTIVE, continuous=True)


def test_error_calculator_refusals():
    with expected_protocol(ZeraCom5003, []) as ref:
        with pytest.raises(SettingError, match="position"):
            ref.error_calculator(0)
        ec = ref.error_calculator(1)
        with pytest.raises(SettingError, match="pulses"):
            ec.pulses = 0
        with pytest.raises(SettingError, match="meter_input"):
            ec.meter_input = "fi0; *RST"


def test_error_calculator_instrument_error_and_unknown_status():
    p = "CALCULATE:EC03:0001:"
    transcript = [
        (p + "MRATE 5;", None),
        ("SYSTEM:ERROR?", "-113,Undefined header"),
        ("SYSTEM:ERROR?", OK),
        (p + "STATUS?", "16"),
    ]
    with expected_protocol(ZeraCom5003, transcript, name="reference") as ref:
        ec = ref.error_calculator(3)
        with pytest.raises(InstrumentError, match="-113"):
            ec.pulses = 5
        with pytest.raises(InstrumentError, match="unknown status 16"):
            ec.status()


def test_energy_register():
    p = "CALCULATE:EM01:0001:"
    transcript = [
        *w(p + "START 1;"),
        (p + "STATUS?", "2"),
        *w(p + "START 0;"),
        (p + "STATUS?", "4"),
        (p + "ENERGY?", "1.725"),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        em = ref.energy_register()
        em.start()
        assert em.running()
        em.stop()
        assert not em.running()
        assert em.energy() == 1.725


def test_non_numeric_reply_raises():
    with (
        expected_protocol(ZeraCom5003, [("CONFIGURATION:POW1:M0CONSTANT?", "n/a")]) as ref,
        pytest.raises(InstrumentError, match="unexpected reply 'n/a'"),
    ):
        ref.reference_constant()


def test_state_polls_with_the_status_query_alone():
    p = "CALCULATE:EC04:0001:"
    transcript = [(p + "STATUS?", code) for code in ("0", "1", "2", "4", "8")]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(4)
        states = [ec.state() for _ in range(5)]
    assert states == [
        ECState.IDLE,
        ECState.WAITING,
        ECState.RUNNING,
        ECState.READY,
        ECState.ABORTED,
    ]


def test_repeated_configure_at_the_same_point_sends_only_start():
    p = "CALCULATE:EC02:0001:"
    transcript = (
        configured(p)
        + w(p + "START 1;")
        + [(p + "STATUS?", "4")]
        + w(p + "START 1;")  # second repetition: nothing before START
        + w(p + "MRATE 120;")  # next point: only the pulse count differs
        + w(p + "START 1;")
        + w(p + "DCUNIT I/kVarh;")  # reactive: only the unit differs
        + w(p + "START 1;")
    )
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(2)
        ec.configure(10000, 100, Quantity.ACTIVE)
        ec.start()
        assert ec.state() is ECState.READY
        ec.configure(10000.0, 100, Quantity.ACTIVE)  # same text "10000": not re-sent
        ec.start()
        ec.configure(10000, 120, Quantity.ACTIVE)
        ec.start()
        ec.configure(10000, 120, Quantity.REACTIVE)
        ec.pulses = 120  # a direct assignment consults the same memory
        ec.start()


def test_setting_commands_follow_every_argument_and_the_pulse_input():
    with expected_protocol(ZeraCom5003, []) as ref:
        ec = ref.error_calculator(3)
        first = ec.setting_commands(1000, 20, Quantity.ACTIVE)
        assert first[0] == "CALCULATE:EC03:0001:DUTSOURCE fi2;"
        assert ec.setting_commands(1000.0, 20, Quantity.ACTIVE) == first
        assert ec.setting_commands(1000, 21, Quantity.ACTIVE)[4] == "CALCULATE:EC03:0001:MRATE 21;"
        assert ec.setting_commands(1000, 21, Quantity.REACTIVE)[3].endswith("I/kVarh;")
        assert ec.setting_commands(1000, 21, Quantity.REACTIVE, True)[5].endswith("CONTINUOUS 1;")
        ec.pulse_input = "sh2"
        assert ec.setting_commands(1000, 20, Quantity.ACTIVE)[0].endswith("DUTSOURCE sh2;")
        with pytest.raises(SettingError, match="pulses"):
            ec.setting_commands(1000, 0, Quantity.ACTIVE)


def test_memory_is_per_position_and_per_connection():
    p1, p2 = "CALCULATE:EC01:0001:", "CALCULATE:EC02:0001:"
    transcript = configured(p1, source="fi0") + configured(p2) + w(p2 + "MRATE 50;")
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ref.error_calculator(1).configure(10000, 100, Quantity.ACTIVE)
        ref.error_calculator(2).configure(10000, 100, Quantity.ACTIVE)
        # A new object for position 2 talks over the same connection: it knows what was written.
        ref.error_calculator(2).configure(10000, 50, Quantity.ACTIVE)
        ref.error_calculator(1).configure(10000, 100, Quantity.ACTIVE)
    with expected_protocol(ZeraCom5003, configured(p1, source="fi0")) as other:
        other.error_calculator(1).configure(10000, 100, Quantity.ACTIVE)  # a new connection


def test_a_refused_setting_is_not_remembered_and_forgets_the_rest():
    p = "CALCULATE:EC02:0001:"
    transcript = [
        *configured(p),
        (p + "MRATE 7;", None),
        ("SYSTEM:ERROR?", "-222,Data out of range"),
        ("SYSTEM:ERROR?", OK),
        *configured(p, pulses=7),  # after an error everything is written again
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(2)
        ec.configure(10000, 100, Quantity.ACTIVE)
        with pytest.raises(InstrumentError, match=r"MRATE 7;.*-222"):
            ec.configure(10000, 7, Quantity.ACTIVE)
        ec.configure(10000, 7, Quantity.ACTIVE)


def test_any_instrument_error_forgets_the_settings():
    p = "CALCULATE:EC02:0001:"
    transcript = [
        *configured(p),
        (p + "START 1;", None),
        ("SYSTEM:ERROR?", "-200,Execution error"),
        ("SYSTEM:ERROR?", OK),
        *configured(p),
        (p + "STATUS?", "n/a"),  # a reply out of step
        *configured(p),
        (p + "STATUS?", "16"),  # an unknown state
        *configured(p),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(2)
        ec.configure(10000, 100, Quantity.ACTIVE)
        with pytest.raises(InstrumentError, match="-200"):
            ec.start()
        ec.configure(10000, 100, Quantity.ACTIVE)
        with pytest.raises(InstrumentError, match="unexpected reply 'n/a'"):
            ec.state()
        ec.configure(10000, 100, Quantity.ACTIVE)
        with pytest.raises(InstrumentError, match="unknown status 16"):
            ec.state()
        ec.configure(10000, 100, Quantity.ACTIVE)


def test_reconnect_forgets_the_settings():
    p = "CALCULATE:EC02:0001:"
    transcript = [
        *configured(p),
        (p + "STATUS?", Fail(ConnectionResetError("reset"))),
        (p + "STATUS?", "1"),
        *configured(p),  # the retry went over a new connection: write everything again
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(2)
        ec.configure(10000, 100, Quantity.ACTIVE)
        assert ec.state() is ECState.WAITING
        ec.configure(10000, 100, Quantity.ACTIVE)


def test_a_write_retried_over_a_new_connection_is_the_only_one_remembered():
    p = "CALCULATE:EC02:0001:"
    transcript = [
        *configured(p),
        (p + "MRATE 5;", FailWrite(ConnectionResetError("reset"))),
        *w(p + "MRATE 5;"),
        # After the reconnect only MRATE 5 is known to be set: configure sends the others.
        *w(p + "DUTSOURCE fi1;"),
        *w(p + "REFSOURCE fo0;"),
        *w(p + "DUTCONSTANT 10000;"),
        *w(p + "DCUNIT I/kWh;"),
        *w(p + "CONTINUOUS 0;"),
    ]
    with expected_protocol(ZeraCom5003, transcript) as ref:
        ec = ref.error_calculator(2)
        ec.configure(10000, 100, Quantity.ACTIVE)
        ec.pulses = 5
        ec.configure(10000, 5, Quantity.ACTIVE)


# -- several error calculators in one transaction (BatchesErrorCalculators) --------------------


def batch(*lines):
    """One pipelined write: the lines joined, as the driver sends them."""
    return "\n".join(lines)


def test_group_of_ecs_costs_one_exchange_per_step():
    e1, e2 = "CALCULATE:EC01:0001:", "CALCULATE:EC02:0001:"

    def settings(p, n):
        return [f"{p}DUTSOURCE fi{n};", p + "REFSOURCE fo0;", p + "DUTCONSTANT 1000;",
                p + "DCUNIT I/kWh;", p + "MRATE 20;", p + "CONTINUOUS 0;"]

    def checked(lines):
        return [x for line in lines for x in (line, "SYSTEM:ERROR?")]

    status = ["STATUS", "PROGRESS", "RESULT", "TARGET", "PULSES", "MEASNUM"]
    transcript = [
        (batch(*checked(settings(e1, 0) + settings(e2, 1))), [OK] * 12),
        (batch(*checked([e1 + "START 1;", e2 + "START 1;"])), [OK, OK]),
        (batch(e1 + "STATUS?", e2 + "STATUS?"), ["2", "4"]),
        (batch(*[f"{e}{q}?" for e in (e1, e2) for q in status]),
         ["4", "100", "0.25", "20000", "19995", "1", "4", "100", "-0.1", "20000", "20020", "1"]),
        # The same point again: nothing to configure, so the next write is the start.
        (batch(*checked([e1 + "START 1;", e2 + "START 1;"])), [OK, OK]),
        (batch(*checked([e1 + "START 0;", e2 + "START 0;"])), [OK, OK]),
    ]
    with expected_protocol(ZeraCom5003, transcript, name="reference") as ref:
        group = ECGroup({1: ref.error_calculator(1), 2: ref.error_calculator(2)})
        group.configure(1000, 20, Quantity.ACTIVE)
        group.start()
        assert group.states() == {1: ECState.RUNNING, 2: ECState.READY}
        statuses = group.statuses()
        assert statuses[1].error == pytest.approx(0.25)
        assert statuses[2].error == pytest.approx(-0.1)
        assert statuses[2].reference_counts == 20020 and statuses[2].target == 20000
        group.configure(1000, 20, Quantity.ACTIVE)
        group.start()
        group.abort()


def test_results_of_ready_gates_read_error_and_counts_alone():
    e1, e2 = "CALCULATE:EC01:0001:", "CALCULATE:EC02:0001:"
    transcript = [
        (batch(e1 + "STATUS?", e2 + "STATUS?"), ["4", "4"]),
        (batch(e1 + "RESULT?", e1 + "PULSES?", e2 + "RESULT?", e2 + "PULSES?"),
         ["0.0125", "20003", "-1.5E-02", "19990"]),
        (e1 + "RESULT?", "-0.5"),
        (e1 + "PULSES?", "19900"),
        (batch(e2 + "RESULT?", e2 + "PULSES?"), ["n/a", "1"]),
    ]
    with expected_protocol(ZeraCom5003, transcript, name="reference") as ref:
        ecs = [ref.error_calculator(1), ref.error_calculator(2)]
        assert ref.states_of(ecs) == [ECState.READY, ECState.READY]
        assert ref.results_of(ecs) == [ECResult(0.0125, 20003), ECResult(-0.015, 19990)]
        assert ecs[0].result() == ECResult(-0.5, 19900)
        with pytest.raises(InstrumentError, match=r"EC02:0001:RESULT\?.*'n/a'"):
            ref.results_of(ecs[1:])


def test_a_refusal_inside_a_transaction_names_its_command_and_forgets_the_settings():
    e1, e2 = "CALCULATE:EC01:0001:", "CALCULATE:EC02:0001:"
    transcript = [
        (batch(e1 + "START 1;", "SYSTEM:ERROR?", e2 + "START 1;", "SYSTEM:ERROR?"),
         [OK, "-221,Settings conflict"]),
        ("SYSTEM:ERROR?", OK),  # drained: nothing more queued
    ]
    with expected_protocol(ZeraCom5003, transcript, name="reference") as ref:
        ref._accepted["X"] = "X 1;"
        ecs = [ref.error_calculator(1), ref.error_calculator(2)]
        with pytest.raises(InstrumentError, match=r"EC02:0001:START 1;.*-221,Settings conflict"):
            ref.start_many(ecs)
        assert ref._accepted == {}


def test_without_pipelining_a_transaction_sends_one_command_per_exchange():
    e1, e2 = "CALCULATE:EC01:0001:", "CALCULATE:EC02:0001:"
    transcript = [
        (e1 + "STATUS?", "1"),
        (e2 + "STATUS?", "8"),
        *w(e1 + "START 0;"),
        *w(e2 + "START 0;"),
    ]
    with expected_protocol(ZeraCom5003, transcript, name="reference", pipeline=False) as ref:
        ecs = [ref.error_calculator(1), ref.error_calculator(2)]
        assert ref.states_of(ecs) == [ECState.WAITING, ECState.ABORTED]
        ref.abort_many(ecs)


def test_an_unknown_state_in_a_batch_raises_naming_the_position():
    transcript = [(batch("CALCULATE:EC01:0001:STATUS?", "CALCULATE:EC07:0001:STATUS?"),
                   ["0", "3"])]
    with (
        expected_protocol(ZeraCom5003, transcript, name="reference") as ref,
        pytest.raises(InstrumentError, match=r"EC07.*unknown status 3"),
    ):
        ref.states_of([ref.error_calculator(1), ref.error_calculator(7)])
