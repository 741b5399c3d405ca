"""SIGTERM and SIGHUP stop a run as Ctrl-C does, and no signal cuts a picture in half.

:func:`nst_numpy.cli.run_handler` runs every command inside
:func:`terminating_signals_interrupt`; the output policy writes its files inside
:func:`signals_held`.
"""

from contextlib import contextmanager
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the process is, as Ctrl-C is: the run stops and
    saves what it has (its message says which signal)."""


@contextmanager
def terminating_signals_interrupt():
    """Inside: SIGTERM and SIGHUP (where they exist) raise :class:`Terminated` in the main
    thread, as Ctrl-C raises KeyboardInterrupt. Yields the list of signals received; the
    previous handlers come back on exit. Outside the main thread (where Python lets no
    handler be set) it changes nothing."""
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum, frame):
        received.append(signum)
        raise Terminated(f"terminated by {signal.Signals(signum).name}")

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), interrupt) for n in names}
    try:
        yield received
    finally:
        for n, handler in previous.items():
            signal.signal(getattr(signal, n), handler)


@contextmanager
def signals_held():
    """Inside: Ctrl-C, SIGTERM and SIGHUP wait for the block to end, so that a picture being
    written is finished first; then the first of them takes effect as usual. Outside the
    main thread it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    names = [n for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), lambda signum, frame: pending.append(signum))
                for n in names}
    try:
        yield
    finally:
        for n, handler in previous.items():
            signal.signal(getattr(signal, n), handler)
        if pending:
            signal.raise_signal(pending[0])
