"""No orphans: worker processes amae starts end when the process that started them dies.

A pool worker or a Dask worker left behind after ``kill -9`` of ``amae features`` or ``amae
experiment`` goes on writing shards or cells and holding gigabytes for minutes. Each worker
therefore calls :func:`bind_to_parent` as it
starts: on Linux the kernel sends it SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), and on
every platform a daemon thread polls the original parent's pid and exits the worker when it is
gone (which also covers a Dask worker whose direct parent is its nanny). The resource tracker of
``multiprocessing`` exits on its own once no live process holds its pipe.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

POLL_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the watchdog below still applies
        pass


def _watch(pid: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if not _alive(pid) or os.getppid() == 1:
            os._exit(1)


def bind_to_parent(parent_pid: int, interval: float = POLL_SECONDS) -> None:
    """Make this process die with ``parent_pid`` (the amae process that started the work).

    Ctrl-C is left to the parent, which stops the workers itself (no traceback from each worker).
    Called in ``parent_pid`` itself it does nothing: a LocalCluster's nannies live inside the amae
    process, and binding that process to *its* parent killed a detached (``nohup``) run, whose
    parent is init, the moment Dask started.
    """
    if parent_pid == os.getpid():
        return
    if threading.current_thread() is threading.main_thread():  # Dask runs plugin setup in another thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    if not _alive(parent_pid):  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid, interval), daemon=True, name="amae-lifeline").start()
