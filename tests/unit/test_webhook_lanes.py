"""Delivery lanes: each endpoint queued once, run by one lane at a time, run again when
offered during its run or when its run asks for more."""

from __future__ import annotations

import threading
import time

from core.webhooks.lanes import Lanes


def wait_idle(lanes: Lanes, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not lanes.idle():
        assert time.monotonic() < deadline, "the lanes never went idle"
        time.sleep(0.005)


def test_an_endpoint_offered_during_its_run_runs_once_more_and_never_twice_at_once() -> None:
    runs: list[int] = []
    inside: dict[int, int] = {}
    overlap: list[int] = []
    started, release = threading.Event(), threading.Event()
    lock = threading.Lock()

    def run(pk: int) -> bool:
        with lock:
            inside[pk] = inside.get(pk, 0) + 1
            if inside[pk] > 1:
                overlap.append(pk)
            runs.append(pk)
        if len(runs) == 1:
            started.set()
            release.wait(5)
        with lock:
            inside[pk] -= 1
        return False

    lanes = Lanes(run, lanes=3)
    lanes.offer([7])
    assert started.wait(5)
    lanes.offer([7, 7, 7])  # during its run: one more run afterwards, not three at once
    time.sleep(0.05)
    assert runs == [7]
    release.set()
    wait_idle(lanes)
    assert runs == [7, 7]
    assert overlap == []


def test_a_run_asking_for_more_is_queued_behind_the_others() -> None:
    order: list[int] = []
    budget = {1: 2}  # endpoint 1 needs three runs (its budget runs out twice)

    def run(pk: int) -> bool:
        order.append(pk)
        left = budget.get(pk, 0)
        budget[pk] = left - 1
        return left > 0

    lanes = Lanes(run, lanes=1)
    lanes.offer([1, 2, 3])
    wait_idle(lanes)
    assert order == [1, 2, 3, 1, 1]


def test_a_failing_run_leaves_the_lane_alive() -> None:
    done: list[int] = []

    def run(pk: int) -> bool:
        if pk == 1:
            raise RuntimeError("database away")
        done.append(pk)
        return False

    lanes = Lanes(run, lanes=1)
    lanes.offer([1])
    lanes.offer([2])
    wait_idle(lanes)
    assert done == [2]


def test_stop_lets_the_run_under_way_end_and_starts_no_other() -> None:
    ran: list[int] = []
    release = threading.Event()

    def run(pk: int) -> bool:
        ran.append(pk)
        release.wait(5)
        return True  # would ask for more: a stopping lane does not run it again

    lanes = Lanes(run, lanes=1)
    lanes.offer([1, 2])
    deadline = time.monotonic() + 5
    while not ran and time.monotonic() < deadline:
        time.sleep(0.005)
    assert lanes.stop(0.05) is False  # endpoint 1's run is still under way
    release.set()
    assert lanes.stop(5) is True
    lanes.offer([3])  # ignored once stopping: the periodic job offers it elsewhere
    time.sleep(0.05)
    assert ran == [1]
    assert lanes.idle()
