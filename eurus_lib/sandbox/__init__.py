"""A sandbox for model-written Python: the trees' environment, the code tasks and evaluation run code here.

    from eurus_lib.sandbox import run_python, run_many, run_unit_tests
    r = run_python("print(input()[::-1])", stdin="abc")
    r.status, r.stdout, r.mode              # ("ok", "cba\\n", "bwrap")

Threat model, modes and measured speed: README, section "Sandbox". Tests: `pytest tests/test_sandbox*.py`;
speed: `python benchmarks/bench_sandbox.py`.
"""

from .batch import run_humaneval, run_many, run_unit_tests, unit_test_program
from .isolation import isolation_mode
from .runner import STATUSES, ExecResult, Limits, run_python

__all__ = ["STATUSES", "ExecResult", "Limits", "isolation_mode", "run_humaneval", "run_many", "run_python",
           "run_unit_tests", "unit_test_program"]
