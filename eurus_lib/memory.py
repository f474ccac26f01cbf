"""Peak memory of one stage: resident memory of this process, and CUDA memory when a GPU is used.

    peak = PeakMemory()          # starts counting now
    ...                          # the stage's work
    peak.read()                  # {"peak_rss_gib": 3.1, "peak_cuda_gib": None}

Linux keeps a high-water mark of resident memory (VmHWM) that `/proc/self/clear_refs` can reset
(write "5"), so each stage gets its own peak rather than the process's peak so far. Where that
file cannot be written, the process-wide peak (`ru_maxrss`) is reported and marked as such.
Memory of child processes (sandboxed code, notebook kernels) is not included.
"""

from __future__ import annotations

import resource
from pathlib import Path

GIB = 1024**3


class PeakMemory:
    def __init__(self) -> None:
        self.per_stage = _reset_rss_peak()
        self.cuda = _reset_cuda_peak()

    def read(self) -> dict:
        rss = _vm_hwm_bytes() if self.per_stage else None
        out = {"peak_rss_gib": round((rss or _ru_maxrss_bytes()) / GIB, 2)}
        if not self.per_stage:
            out["peak_rss_scope"] = "process"  # could not reset the mark: peak since the process started
        if self.cuda:
            import torch

            out["peak_cuda_gib"] = round(torch.cuda.max_memory_allocated() / GIB, 2)
        return out


def _reset_rss_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _vm_hwm_bytes() is not None
    except OSError:
        return False


def _vm_hwm_bytes() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _ru_maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _reset_cuda_peak() -> bool:
    try:
        import torch
    except ImportError:
        return False
    if not torch.cuda.is_available():
        return False
    torch.cuda.reset_peak_memory_stats()
    return True
