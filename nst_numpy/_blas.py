"""BLAS held to one thread, process-wide, for code that runs its own threads or suffers from
BLAS's: the fast network's band threads (:mod:`nst_numpy.fast.parallel`) and the W2 style
loss's eigensolver (:class:`nst_numpy.terms.W2Style`)."""

import threading
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_blas = None


def _blas_libraries():
    """The BLAS libraries loaded in this process (NumPy's), found once, on first use."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


# single_threaded_blas: how many are open, and the limiter of the first one
_blas_users, _blas_limiter, _blas_lock = 0, None, threading.Lock()


@contextmanager
def single_threaded_blas():
    """Context manager: BLAS runs on one thread inside it (process-wide), as before after.

    For code that does all its parallel work with :func:`nst_numpy.fast.parallel.map_bands`: in between, BLAS
    threads left spinning by a multithreaded matrix product would compete with the band
    threads for the cores. Nested or overlapping uses share one limit, set by the first to
    enter and lifted by the last to leave (an inner one costs nothing).
    """
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = _blas_libraries().limit(limits=1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
