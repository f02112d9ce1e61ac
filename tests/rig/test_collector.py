"""rig.collector: the cycle collector while a plan runs or a simulated bench serves."""

from __future__ import annotations

import gc
import weakref

import pytest

from rig.collector import THRESHOLDS, settled_heap

pytest_plugins = ["pytester"]


class _Node:
    """An object that can sit in a reference cycle and be watched."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_the_block_freezes_what_exists_and_raises_the_thresholds_then_restores() -> None:
    before = gc.get_threshold()
    kept = _Node()  # alive at the start: frozen
    with settled_heap():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert kept.other is None


def test_a_failing_block_restores_the_collector() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="inside"), settled_heap():
        raise RuntimeError("inside")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_garbage_cycles_from_before_the_block_are_freed_not_frozen() -> None:
    gc.disable()
    try:
        gone = _cycle()
        assert gone() is not None  # unreachable, but a cycle waits for the collector
        with settled_heap():
            assert gone() is None
    finally:
        gc.enable()


def test_cycles_made_in_the_block_are_still_collected() -> None:
    with settled_heap():
        made = _cycle()
        gc.collect()
        assert made() is None


def test_a_plan_run_has_the_settled_heap_while_its_tests_run(pytester: pytest.Pytester) -> None:
    """The rig fixture holds it from the session's start to its end (rig.pytest_plugin)."""
    pytester.makepyfile(test_heap=f"""
import gc

def test_inside(rig):
    assert gc.get_threshold() == {THRESHOLDS!r}
    assert gc.get_freeze_count() > 0
""")
    before = gc.get_threshold()
    result = pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
                                "--runs-dir", str(pytester.path / "runs"), "--no-report")
    result.assert_outcomes(passed=1)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
