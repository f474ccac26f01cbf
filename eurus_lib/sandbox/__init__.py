"""A sandbox for model-written Python: the trees' environment, the code tasks and evaluation run code here.

    from eurus_lib.sandbox import run_python, run_many, run_unit_tests
    r = run_python("print(input()[::-1])", stdin="abc")
    r.status, r.stdout, r.mode              # ("ok", "cba\\n", "bwrap")

Judging unit tests: exit status 0 is not a pass. Build the program with `unit_test_program`
and judge its run with `unit_tests_passed(result, program.sentinel)` (or `program.passed(result)`):
True only when check() ran to its end, so `quit()`, `sys.exit(0)`, `os._exit(0)` or an atexit hook
cannot make a wrong function pass by accident. `run_unit_tests` and `run_humaneval` do this and
return `UnitTestResult`s whose `passed` (= `ok`) means it. Hostile code can still fake a pass.

Threat model, modes and measured speed: README, section "Sandbox". Tests: `pytest tests/test_sandbox*.py`;
speed: `python benchmarks/bench_sandbox.py`.
"""

from .batch import (
    UnitTestProgram,
    UnitTestResult,
    run_humaneval,
    run_many,
    run_unit_tests,
    unit_test_program,
    unit_tests_passed,
)
from .isolation import isolation_mode
from .runner import ExecResult, Limits, run_python

__all__ = ["ExecResult", "Limits", "UnitTestProgram", "UnitTestResult", "isolation_mode", "run_humaneval",
           "run_many", "run_python", "run_unit_tests", "unit_test_program", "unit_tests_passed"]
