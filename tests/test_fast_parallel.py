"""map_bands: every band once, single-threaded BLAS inside its threads, restored after;
and the FastVGG passes that rely on it."""

import multiprocessing
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from nst_numpy import vgg
from nst_numpy.fast import FastVGG
from nst_numpy.fast.parallel import map_bands, single_threaded_blas, usable_cores


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_every_band_is_computed_once(threads):
    a = np.arange(40.0).reshape(10, 4)
    out = np.zeros_like(a)
    calls = []

    def square_rows(start):
        calls.append(start)
        out[start:start + 3] = a[start:start + 3] @ a[start:start + 3].T @ a[start:start + 3]

    map_bands(square_rows, range(0, 10, 3), threads)
    assert sorted(calls) == [0, 3, 6, 9]
    expected = np.concatenate([a[s:s + 3] @ a[s:s + 3].T @ a[s:s + 3] for s in range(0, 10, 3)])
    np.testing.assert_array_equal(out, expected)


def test_blas_is_single_threaded_inside_the_bands_and_restored_after():
    before = blas_threads()
    seen, threads_used = [], set()

    def work(_):
        seen.append(blas_threads())
        threads_used.add(threading.get_ident())

    map_bands(work, range(8), threads=2)
    assert all(counts == [1] * len(before) for counts in seen)
    assert threading.get_ident() not in threads_used   # the bands ran in worker threads
    assert blas_threads() == before


def test_an_error_in_a_band_is_raised_and_blas_restored():
    before = blas_threads()

    def work(band):
        if band == 2:
            raise ValueError("band 2 failed")

    with pytest.raises(ValueError, match="band 2 failed"):
        map_bands(work, range(4), threads=2)
    assert blas_threads() == before


def test_nested_limits_are_lifted_by_the_outermost_only():
    before = blas_threads()
    with single_threaded_blas():
        with single_threaded_blas():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == [1] * len(before)     # still inside the outer one
        map_bands(lambda band: None, range(4), threads=2)
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before


def test_band_threads_are_kept_between_calls():
    workers = set()   # the thread objects themselves: a new thread may reuse an old one's id
    for _ in range(5):
        map_bands(lambda band: workers.add(threading.current_thread()), range(8), threads=2)
    assert 1 <= len(workers) <= 2


def _bands_in_child(queue):
    out = np.zeros(6)

    def work(band):
        out[band] = band

    map_bands(work, range(6), threads=2)
    queue.put(out.tolist())


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
def test_a_forked_child_gets_its_own_band_threads():
    """A child made by fork() has none of the parent's threads: reusing the parent's pool
    would wait forever."""
    map_bands(lambda band: None, range(4), threads=2)     # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_bands_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the child hung or failed"
    assert queue.get(timeout=5) == [0, 1, 2, 3, 4, 5]


def test_usable_cores_are_the_cores_this_process_may_run_on(monkeypatch):
    import os
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert usable_cores() == expected
    if hasattr(os, "sched_getaffinity"):   # a process limited to one core gets one band thread
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
        assert usable_cores() == 1


@pytest.mark.parametrize("model", ["plain", "fast"])
def test_vgg_passes_leave_the_blas_threads_as_they_found_them(model):
    """FastVGG passes hold BLAS to one thread while they run (map_bands and the whole pass,
    see nst_numpy.fast.vgg) and lift the limit after; the plain VGG never touches it."""
    before = blas_threads()
    weights = vgg.random_weights()
    net = vgg.VGG(weights) if model == "plain" else FastVGG(weights)
    x = np.random.default_rng(0).normal(size=(3, 24, 24))
    out, tape = net.forward(x, ["relu3_1"])
    assert blas_threads() == before
    net.backward(out, tape)
    assert blas_threads() == before
