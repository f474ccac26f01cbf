"""The environment of a tree (paper section 2.2): run the action's code, observe, judge against ground truth.

    env = Environment(sandbox_executor(timeout_s=5, memory_mb=512))
    [outcome] = env.assess([task], ["Step 1: add.\\n```python\\nprint(3 + 4)\\n```"])
    outcome.correct, outcome.observation          # (True, "7")

The observation is (1) the interpreter's output or traceback and (2) binary feedback, correct
or wrong. Math and logic are judged on the printed output of the code (Program-of-Thought:
print the answer) or, when no code printed anything, on the answer the text states; Math_CoT
offers no interpreter, so only the stated answer counts. Code is judged by the task's unit
tests, with the sandbox's `unit_tests_passed`: only a run in which check() got to its end passes,
so a wrong function followed by `quit()` is wrong (issue 9). The executor is injected: the kit's
sandbox in the stage, a fake in the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..sandbox import UnitTestProgram, unit_test_program
from .actions import NO_OUTPUT, ParsedAction, parse_action, uses_tool

Executor = Callable[[list[str]], list]  # programs -> results with .status, .stdout, .stderr


@dataclass
class Outcome:
    """How one action fared: what the actor observes, and what the critic needs to know."""

    correct: bool
    observation: str  # shown after "Out: " in the next user turn ("" when no code ran)
    ran_code: bool
    error: str  # "", "empty", "no_answer", "syntax", "exec_error", "timeout", "no_output", "wrong_answer", "test_failed"
    predicted: str | None  # the answer the action gave (printed or stated)
    detail: str = ""  # for the critic: the failing test line, the last traceback line, ...
    parsed: ParsedAction | None = None


class Environment:
    """Judge many actions at once; one executor call runs all of their programs."""

    def __init__(self, executor: Executor, judge: Callable | None = None, *, observation_chars: int = 400,
                 timeout_s: float = 5.0):
        if judge is None:
            from ..tasks.answers import answers_match as judge
        self.executor, self.judge = executor, judge
        self.observation_chars, self.timeout_s = observation_chars, timeout_s

    def assess(self, tasks: Sequence, texts: Sequence[str]) -> list[Outcome]:
        """One Outcome per (task, action text)."""
        parsed = [parse_action(t, tool=uses_tool(task.task)) for task, t in zip(tasks, texts, strict=True)]
        programs = {i: program_for(task, p) for i, (task, p) in enumerate(zip(tasks, parsed, strict=True)) if _runs(p)}
        codes = [_code(program) for program in programs.values()]
        results = dict(zip(programs, self.executor(codes), strict=True)) if programs else {}
        return [self._outcome(task, p, results.get(i), programs.get(i, ""))
                for i, (task, p) in enumerate(zip(tasks, parsed, strict=True))]

    def _outcome(self, task, p: ParsedAction, result, program: str | UnitTestProgram) -> Outcome:
        if p.syntax_error:
            return Outcome(False, p.syntax_error, True, "syntax", p.answer, p.syntax_error, p)
        if result is None:
            if task.task == "Coding" and not p.problems:
                return Outcome(False, "", False, "no_answer", None, "The response has no python code block.", p)
            if p.problems:
                return Outcome(False, "", False, "empty" if "empty" in p.problems[0] else "no_answer", None,
                               p.problems[0], p)
            return self._judged(task, p, p.answer, "", False)
        if task.task == "Coding":
            return self._tested(p, result, program)
        observation = self.observe(result)
        if result.status != "ok":
            kind = "timeout" if result.status == "timeout" else "exec_error"
            return Outcome(False, observation, True, kind, p.answer, failing_line(result.stderr, program), p)
        printed = result.stdout if result.stdout.strip() else None
        return self._judged(task, p, printed or p.answer, observation, True)

    def _tested(self, p: ParsedAction, result, program: UnitTestProgram) -> Outcome:
        observation = self.observe(result, stdout=program.output(result))
        if program.passed(result):
            return Outcome(True, observation, True, "", None, "", p)
        detail = failing_line(result.stderr, program.code)
        if result.status == "ok":  # exit status 0, yet check() never finished: the code ended the process
            detail = "the program ended before the unit tests finished (it must not call exit(), quit() or sys.exit())"
        return Outcome(False, observation, True, "test_failed", None, detail, p)

    def _judged(self, task, p: ParsedAction, predicted: str | None, observation: str, ran: bool) -> Outcome:
        if predicted is None:
            error = "no_output" if ran else "no_answer"
            return Outcome(False, observation, ran, error, None, "The code prints nothing.", p)
        ok = bool(self.judge(task, predicted))
        return Outcome(ok, observation, ran, "" if ok else "wrong_answer", predicted.strip(), "", p)

    def observe(self, result, stdout: str | None = None) -> str:
        """The interpreter's output as the actor sees it: stdout, or the traceback's tail, capped.

        stdout: what to show instead of result.stdout (a unit-test run's, without its sentinel line).
        """
        stdout = result.stdout if stdout is None else stdout
        if result.status == "timeout":
            return f"[Execution timed out after {self.timeout_s:g} s]"
        if result.status == "memory":
            return "[Execution ran out of memory]" + _tail(result.stderr, self.observation_chars // 2, "\n")
        if result.status != "ok":
            return _tail((stdout + result.stderr).strip(), self.observation_chars)
        return _tail(stdout.strip(), self.observation_chars) or NO_OUTPUT


def program_for(task, parsed: ParsedAction) -> str | UnitTestProgram:
    """The program the interpreter runs: the action's code; for coding tasks, the sandbox's
    unit-test program (code + tests + check, then the sentinel that says check() finished)."""
    if task.task == "Coding":
        return unit_test_program("", parsed.code + "\n", task.tests, task.entry_point)
    return parsed.code


def _code(program: str | UnitTestProgram) -> str:
    return program.code if isinstance(program, UnitTestProgram) else program


def failing_line(stderr: str, program: str) -> str:
    """'line 12: assert candidate(3) == 6 -> AssertionError' from a traceback of main.py."""
    lines = [ln for ln in (stderr or "").strip().splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else ""
    numbers = re.findall(r'File "main\.py", line (\d+)', stderr or "")
    src = program.splitlines()
    if numbers and 0 < int(numbers[-1]) <= len(src):
        return f"line {numbers[-1]}: {src[int(numbers[-1]) - 1].strip()} -> {last}"
    return last


def _runs(p: ParsedAction) -> bool:
    return bool(p.code) and not p.syntax_error


def _tail(text: str, limit: int, prefix: str = "") -> str:
    if not text:
        return ""
    return prefix + (text if len(text) <= limit else "..." + text[-limit:])


def sandbox_executor(*, timeout_s: float, memory_mb: int, workers: int | None = None) -> Executor:
    """Run programs in the kit's sandbox (eurus_lib.sandbox), in parallel."""
    from ..sandbox import run_many

    def execute(programs: list[str]) -> list:
        return run_many(programs, timeout_s=timeout_s, memory_mb=memory_mb, workers=workers)

    return execute
