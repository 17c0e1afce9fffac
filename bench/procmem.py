"""Resident memory of a process tree: psutil when installed, else /proc/<pid>/status."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

try:
    import psutil
except ImportError:  # the benchmarks degrade to /proc
    psutil = None

SOURCE = "psutil" if psutil is not None else "/proc/<pid>/status"


@dataclass(frozen=True)
class TreeMemory:
    """Summed over a process and all its descendants (shared pages count once per process)."""

    rss: int  # bytes, now
    peak: int  # bytes: the sum of each process's high-water mark (VmHWM)
    processes: int

    @property
    def rss_mib(self) -> float:
        return self.rss / 2**20

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20


def process_tree(pid: int) -> list[int]:
    """The pid and every descendant's pid."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            return [pid, *(child.pid for child in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current == pid and not os.path.exists(f"/proc/{pid}"):
            return []
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _status_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM in KiB from /proc/<pid>/status (0 when the process is gone)."""
    rss = hwm = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def tree_memory(pid: int) -> TreeMemory:
    pids = process_tree(pid)
    rss = peak = 0
    for each in pids:
        each_rss, each_hwm = _status_kib(each)  # VmHWM is not in psutil's portable API
        if psutil is not None:
            with contextlib.suppress(psutil.Error):
                each_rss = psutil.Process(each).memory_info().rss // 1024
        rss += each_rss * 1024
        peak += max(each_hwm, each_rss) * 1024
    return TreeMemory(rss=rss, peak=peak, processes=len(pids))


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU of each live process, including its reaped children."""
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            # after the command: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
            found[pid] = sum(int(x) for x in fields[11:15]) / _TICK
    return found


class CpuMeter:
    """CPU seconds spent by named groups of processes between start() and stop().

    A group is a callable returning its current pids (a process tree, or the
    PostgreSQL backends of one database); a process that appears later counts
    from zero, one that exits before stop() keeps what it had at start()."""

    def __init__(self, groups: dict[str, object]) -> None:
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: cpu_seconds(pids()) for name, pids in self.groups.items()}  # type: ignore[operator]

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        spent = {}
        for name, now in after.items():
            then = self.before.get(name, {})
            spent[name] = sum(max(0.0, value - then.get(pid, 0.0)) for pid, value in now.items())
        return spent
