"""How many trivial programs per second the sandbox runs, side by side with a plain subprocess.

    .venv/bin/python benchmarks/bench_sandbox.py                 # 200 runs, 2 workers
    .venv/bin/python benchmarks/bench_sandbox.py --runs 400 --workers 1 2 4

Every row runs `print(1 + 1)` the same number of times through a thread pool of the given size:
- baseline:   subprocess.run([sys.executable, "-c", ...]), no isolation and no limits;
- bwrap:      run_python in bubblewrap (namespaces, read-only binds, limits, per-run uid);
- subprocess: run_python's fallback (limits only).
The ratio is sandbox runs per second over baseline runs per second, measured in the same process.
Target (issue 5): at least 20 runs per second on 2 cores, in bwrap mode.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eurus_lib.sandbox import run_python  # noqa: E402
from eurus_lib.sandbox.isolation import bwrap_check  # noqa: E402

CODE = "print(1 + 1)"
TARGET_PER_S = 20.0


def baseline_once() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=30)
    assert out.stdout == "2\n"


def sandbox_once(mode: str) -> None:
    r = run_python(CODE, isolation=mode)
    assert (r.status, r.stdout, r.mode) == ("ok", "2\n", mode), r


def rate(fn, runs: int, workers: int) -> float:
    """Runs per second of `fn` over `runs` calls from `workers` threads (after two warm-up calls)."""
    fn(), fn()
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: fn(), range(runs)))
    return runs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="programs per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="thread-pool sizes to measure")
    args = parser.parse_args()
    works, reason = bwrap_check()
    modes = ["bwrap", "subprocess"] if works else ["subprocess"]
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
          f"euid {os.geteuid()}" + ("" if works else f"; bubblewrap unavailable: {reason}"))
    warnings.simplefilter("ignore")  # the fallback's warning is expected here
    for workers in args.workers:
        base = rate(baseline_once, args.runs, workers)
        print(f"\nworkers={workers}, runs={args.runs}")
        print(f"  {'baseline':<11} {base:7.1f} runs/s")
        for mode in modes:
            per_s = rate(lambda m=mode: sandbox_once(m), args.runs, workers)
            verdict = "" if mode != "bwrap" else ("  (target met)" if per_s >= TARGET_PER_S else "  (BELOW TARGET)")
            print(f"  {mode:<11} {per_s:7.1f} runs/s   ratio to baseline {per_s / base:4.2f}{verdict}")


if __name__ == "__main__":
    main()
