"""The search's pause of the cyclic collector: nested and threaded pauses end with the
collector as it was before the first one."""

from __future__ import annotations

import gc
import threading

from directory.gc_pause import gc_paused


def test_nested_pauses_restore_the_collector_only_at_the_end() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_concurrent_pauses_from_threads() -> None:
    inside = threading.Barrier(4)

    def work() -> None:
        with gc_paused():
            inside.wait(timeout=5)
            assert not gc.isenabled()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.isenabled()


def test_an_error_inside_still_restores() -> None:
    try:
        with gc_paused():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.isenabled()
