"""Bands of one layer on every core, without oversubscribing them.

A convolution on a large image splits into bands of rows that are computed independently.
NumPy's elementwise loops run on one core, BLAS on all of them. Computing the bands in
``T`` Python threads (NumPy releases the GIL in both) keeps every core busy with both
kinds of work, but only if each thread's matrix products run single-threaded: ``T``
threads times ``T`` BLAS threads would oversubscribe the cores, and BLAS threads that wait
for each other then crawl (docs/benchmarks.md).
:func:`map_bands` therefore limits BLAS to one thread (process-wide, through
``threadpoolctl``) while its threads run, and restores it afterwards.

The limit is process-wide: while any pass holds it, every BLAS call of the process runs
on one thread, and it is lifted when the last one leaves. Two FastVGG passes run at the
same time from different threads therefore share the cores correctly but slowly; run them one
after the other (or in separate processes). ``threadpoolctl`` controls OpenBLAS, MKL and
BLIS; with a BLAS it cannot control, the bands still run in threads, and the cores may be
oversubscribed. The band threads are started once and kept (:func:`map_bands`).
"""

import os
from concurrent.futures import ThreadPoolExecutor

from .._blas import single_threaded_blas


def usable_cores():
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# One pool of band threads per thread count, kept between calls: starting threads for
# every convolution would cost time on every call. A child process made by fork() has none
# of its parent's threads, so it starts with no pools.
_pools = {}
if hasattr(os, "register_at_fork"):   # (not on Windows, which has no fork)
    os.register_at_fork(after_in_child=_pools.clear)


def _pool(threads):
    if threads not in _pools:
        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="nst_numpy_band")
    return _pools[threads]


def map_bands(work, bands, threads):
    """Call ``work(band)`` for every band: in ``threads`` threads with single-threaded BLAS,
    or one after the other (BLAS as configured) when ``threads`` is 1 or there is one band.

    ``work`` writes its result in place (each band into its own part of an output array),
    so the order in which the bands finish does not matter. An exception in any band is
    raised here.
    """
    if threads <= 1 or len(bands) <= 1:
        for band in bands:
            work(band)
        return
    with single_threaded_blas():
        list(_pool(threads).map(work, bands))
