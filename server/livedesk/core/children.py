"""Child processes that do not outlive the process that started them."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


def dying_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` by which the child gets SIGTERM when this process dies (Linux). Made
    here, in the parent: between fork and exec the child must not import anything."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)
