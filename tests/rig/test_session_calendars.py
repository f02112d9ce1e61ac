"""A session that ends after a series of tariff tests (rig.tariffs: the meters' own calendars
go back once, after the series): written back at the session's end, before the source goes
off; after a stop request nothing is sent, and the run log says what is left in force where,
with each meter's own tables, which a resumed run writes back before anything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.store import ResultsStore
from rig.meterlink import each
from rig.session import RigSession, SessionOptions
from rig.tariffs import TARIFF_LEFT, tariff_in_force


def _seasons(world: Any) -> dict[int, tuple[str, ...]]:
    """Each simulated meter's seasons table (C.90.5, A1000 manual 1.4 item 6), from the model
    (the session's simulated world, which stays readable after the session closed)."""
    return {n: tuple(world.positions[n].meter.tou.encode_seasons()) for n in world.positions}


def _session(tmp_path: Path) -> RigSession:
    session = RigSession(SessionOptions(plan="smoke", runs_dir=tmp_path, positions=2,
                                        sim_process="no"))
    return session.start()


def _tariff_3_left_in_force(session: RigSession) -> dict[int, tuple[str, ...]]:
    """Tariff 3 forced by a tariff test that completed; the meters' own seasons before it."""
    own = _seasons(session.sim.world)
    links = {p.number: session.link(p) for p in session.positions}
    with tariff_in_force(session, session.positions, links, 3):
        pass
    assert set(_seasons(session.sim.world).values()) == {("01-01=T3",)}
    assert ("01-01=T3",) not in own.values()
    return own


def _log(session: RigSession) -> list[Any]:
    assert session.run is not None and session.store_location is not None
    with ResultsStore(session.store_location) as store:
        return store.events(session.run.run_id)


def test_the_session_end_writes_each_meters_calendar_back(tmp_path: Path) -> None:
    session = _session(tmp_path)
    try:
        own = _tariff_3_left_in_force(session)
        world = session.sim.world
        entries = session.programming_entries
    finally:
        session.close()
        session.stop.uninstall()
    assert _seasons(world) == own
    assert session.programming_entries == entries + 1  # one programming state for both meters
    assert not [e for e in _log(session) if "left in force" in e.message]


def test_a_stopped_session_sends_nothing_and_logs_the_tariff_left_in_force(
    tmp_path: Path,
) -> None:
    session = _session(tmp_path)
    try:
        own = _tariff_3_left_in_force(session)
        world = session.sim.world
        entries = session.programming_entries
        session.stop.request("operator pressed Ctrl-C")
    finally:
        session.close()
        session.stop.uninstall()
    assert set(_seasons(world).values()) == {("01-01=T3",)}
    assert session.programming_entries == entries  # nobody asked to hold a reset button
    (left,) = [e for e in _log(session) if "left in force" in e.message]
    assert left.message == ("Positions 1, 2 (each meter): tariff 3 left in force (calendar "
                            "tables C.90.5, C.90.6, C.90.7 not written back): operator pressed "
                            "Ctrl-C")
    # Each meter's own tables go with it, to write back by hand.
    assert left.data["tariff"] == 3
    assert {n: tuple(t["C.90.5"]) for n, t in left.data["calendars"].items()} == {
        str(n): seasons for n, seasons in own.items()}


def test_a_resumed_run_writes_back_first_the_calendars_its_stopped_session_left(
    tmp_path: Path,
) -> None:
    # The meters' own seasons (A1000 manual 1.4 item 6): two profiles, none of the simulator's
    # defaults, so that only the run log can bring them back to a fresh simulated bench.
    own = ("01-01=P1", "07-01=P2")
    session = _session(tmp_path)
    try:
        links = {p.number: session.link(p) for p in session.positions}
        with session.programming(*session.positions):
            each(links, lambda link: link.write([("C.90.5", own)]))
        _tariff_3_left_in_force(session)
        session.stop.request("operator pressed Ctrl-C")
    finally:
        session.close()
        session.stop.uninstall()
    assert session.run is not None
    resumed = RigSession(SessionOptions(plan="smoke", runs_dir=tmp_path, positions=2,
                                        sim_process="no", resume=session.run.run_id))
    resumed.start()
    try:
        assert _seasons(resumed.sim.world) == {1: own, 2: own}
        assert resumed.tariff_carry.forced is None
        assert resumed.programming_entries == 1
    finally:
        resumed.close()
        resumed.stop.uninstall()
    back = [e for e in _log(resumed) if e.kind == TARIFF_LEFT]
    assert [e.data["tariff"] for e in back] == [3, None]
    assert back[-1].message == ("Positions 1, 2 (each meter): each meter's own calendar written "
                                "back (tariff 3 was left in force when the run stopped)")
