"""Child processes that never outlive the test run that started them."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """`preexec_fn` for Popen: the kernel kills the child when the test process dies, however
    it dies. A beat or worker left behind by a killed run would keep sending or eating tasks
    on the Redis database number the next run is given (seen: an orphaned beat's sweeps
    decided claims a later test expected to stay pending)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
