"""Fakes shared by the tree tests (no tests here): tasks with ground truth, scripted actors, executors."""

from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess
import sys
from dataclasses import dataclass
from types import SimpleNamespace

from eurus_lib.config import TreesSettings
from eurus_lib.tasks.base import Task

RIGHT = "Step 1: Add the numbers.\n```python\n# Step 1: add\nprint(3 + 4)\n```"
WRONG = "Step 1: Multiply the numbers.\n```python\n# Step 1: multiply\nprint(3 * 4)\n```"
BROKEN = "Step 1: Add.\n```python\nprint((3 + 4)\n```"


def math_task(k: int = 0, label: str = "Math_PoT") -> Task:
    prompt = f"Ann has 3 apples and gets 4 more. How many apples does Ann have? (problem {k})"
    return Task(id=hashlib.sha256(prompt.encode()).hexdigest(), family="math", task=label, dataset="fake-math",
                prompt=prompt, answer="7", solution="apples = 3\napples = apples + 4\nprint(apples)\n",
                rationale="Step 1: Ann starts with 3 apples.\nStep 2: 3 + 4 = 7 apples. The answer is 7.",
                difficulty=1, meta={"answer_kind": "number"})


def code_task() -> Task:
    prompt = "Write a function `double(x)` that returns twice `x`."
    tests = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-3) == -6\n"
    return Task(id=hashlib.sha256(prompt.encode()).hexdigest(), family="code", task="Coding", dataset="fake-code",
                prompt=prompt, solution="def double(x):\n    return 2 * x\n", rationale="Step 1: Return 2 * x.",
                tests=tests, entry_point="double", difficulty=1)


def logic_task() -> Task:
    prompt = "Ada is taller than Bo. Who is taller?"
    return Task(id=hashlib.sha256(prompt.encode()).hexdigest(), family="logic", task="Logic", dataset="fake-logic",
                prompt=prompt, answer="Ada", solution="print('Ada')\n",
                rationale="Step 1: The clue says Ada is taller. The answer is Ada.", meta={"answer_kind": "name"})


def instruction(task: Task) -> str:
    return f"Solve: {task.prompt}"


def run_subprocess(programs: list[str], timeout_s: float = 5.0) -> list:
    """A plain (unsandboxed) executor: fine for the tests' own programs."""
    out = []
    for code in programs:
        try:
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s)
            status = "ok" if p.returncode == 0 else "error"
            out.append(SimpleNamespace(status=status, stdout=p.stdout, stderr=p.stderr.replace('"<string>"',
                                                                                                 '"main.py"')))
        except subprocess.TimeoutExpired:
            out.append(SimpleNamespace(status="timeout", stdout="", stderr=""))
    return out


def fake_executor(programs: list[str]) -> list:
    """Instant: runs the tests' own small programs in this process and captures what they print."""
    results = []
    for code in programs:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "main.py", "exec"), {"__name__": "__main__"})
            results.append(SimpleNamespace(status="ok", stdout=out.getvalue(), stderr=""))
        except Exception as exc:  # noqa: BLE001 - report it the way a traceback would
            results.append(SimpleNamespace(status="error", stdout=out.getvalue(), stderr=f"{type(exc).__name__}: {exc}"))
    return results


@dataclass
class ScriptedActor:
    """Replies from a function of (conversation, call number); records every conversation it saw."""

    name: str
    reply: object  # callable(conversation) -> str

    def __post_init__(self):
        self.calls: list[list] = []

    def sample(self, conversations, seed=None):
        self.calls.append([list(c) for c in conversations])
        return [self.reply(c) for c in conversations]


def alternating(*texts):
    """A reply function cycling through texts, one per sampled action."""
    state = {"i": 0}

    def reply(_conv):
        state["i"] += 1
        return texts[(state["i"] - 1) % len(texts)]

    return reply


def settings(**kw) -> TreesSettings:
    base = {"samples_per_turn": 2, "max_turns": 3, "annotate_samples": 0, "live_trees": 8, "cot_share": 0.5}
    base.update(kw)
    return TreesSettings(**base)
