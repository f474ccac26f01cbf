"""UltraInteract instruction prefixes: the exact text that wraps a problem in the released data.

    >>> ultrainteract_instruction(task)   # task.task == "Coding"
    'Write Python code to solve the task.\\nWrite a function ...'

The Coding, Math_CoT and Math_PoT prefixes are copied from the released rows and the Eurus
model cards (eurus-paper.md section 1.5). The released Logic rows come from HotpotQA and
StrategyQA with a Wikipedia search tool; our logic puzzles need no search, so the Logic prefix
is ours: the Python-interpreter preamble of Math_PoT followed by the Logic rows' closing line
"Solve the following problem step-by-step:".
"""

from __future__ import annotations

from ..errors import DataError
from .base import TASK_LABELS, Task

PYTHON_TOOL = (
    "Tool available:\n"
    "[1] Python interpreter\n"
    "When you send a message containing Python code to python, it will be executed in a "
    "stateful Jupyter notebook environment.\n"
)

PREFIXES = {
    "Coding": "Write Python code to solve the task.\n",
    "Math_CoT": (
        "Solve the following math problem step-by-step.\n"
        "Simplify your answer as much as possible. Present your final answer as \\boxed{Your Answer}.\n"
    ),
    "Math_PoT": PYTHON_TOOL + "Solve the following math problem step-by-step.\nSimplify your answer as much as possible.\n",
    "Logic": PYTHON_TOOL + "Solve the following problem step-by-step:\n",
}


def ultrainteract_instruction(task: Task) -> str:
    """The first user turn for `task`, exactly as UltraInteract writes it: prefix + problem."""
    if task.task not in TASK_LABELS:
        raise DataError(f"Task {task.id} has task label {task.task!r}; expected one of {', '.join(TASK_LABELS)}.")
    return PREFIXES[task.task] + task.prompt
