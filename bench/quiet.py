"""How busy the rest of the machine was while a measurement ran (Linux, from /proc/stat).

A timing ratio is only worth printing when nothing else competed for the CPUs. These helpers
measure the *other* processes' share of the machine during an interval: the machine's busy
CPU time (``/proc/stat``: user + nice + system + irq + softirq + steal) minus this process's
own CPU time (and its waited-for children's), over ``elapsed × CPUs``.

    with OtherLoad() as load:
        run_the_measurement()
    print(f"others used {100 * load.share:.1f}% of the machine")

:func:`wait_for_idle` blocks until the others' share over a short window falls below a
threshold (or gives up after a timeout and says so).
"""

from __future__ import annotations

import os
import time

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (not idle, iowait)


def _machine_busy_seconds() -> float:
    with open("/proc/stat", encoding="ascii") as fh:
        fields = fh.readline().split()[1:]
    ticks = sum(int(fields[i]) for i in _BUSY_FIELDS if i < len(fields))
    return ticks / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class OtherLoad:
    """Context manager: ``share`` = other processes' CPU time / (elapsed × CPUs)."""

    def __init__(self) -> None:
        self.share = float("nan")
        self.elapsed = 0.0

    def __enter__(self) -> OtherLoad:
        self._t0 = time.monotonic()
        self._busy0 = _machine_busy_seconds()
        self._own0 = _own_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self._t0
        busy = _machine_busy_seconds() - self._busy0
        own = _own_seconds() - self._own0
        capacity = max(1e-9, self.elapsed * (os.cpu_count() or 1))
        self.share = max(0.0, busy - own) / capacity


def wait_for_idle(max_share: float = 0.05, window: float = 5.0, timeout: float = 600.0) -> float:
    """Wait until others use less than ``max_share`` of the machine over ``window`` seconds.

    Returns the last window's share; prints a line and returns when ``timeout`` passes first.
    """
    deadline = time.monotonic() + timeout
    while True:
        with OtherLoad() as load:
            time.sleep(window)
        if load.share < max_share:
            return load.share
        if time.monotonic() > deadline:
            print(
                f"machine not idle after {timeout:.0f} s: others used {100 * load.share:.0f}%",
                flush=True,
            )
            return load.share
