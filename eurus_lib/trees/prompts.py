"""What the actor is told, and the ground-truth actions of the last resort (paper section 2.3, App. A.2).

    >>> guide("Math_PoT", "modular")[:40]
    'Solve the task in numbered steps. Write '

The released trajectories start at the instruction, so the actor's own prompt is not part of
the data (the paper never published it; OpenBMB/Eurus issue #7). Here it is a short system
message giving the unified action format for the action's planning schema; it is never
written to the rows. For the ground-truth fallback the same message also carries the
reference solution, which the actor annotates ("Correct actions from GT", App. A.2): the
code for coding and tool math, the rationale with its result numbers masked for text math.
"""

from __future__ import annotations

import re

from .actions import code_block, uses_tool

_CODE_COT = ("Then write one ```python code block that follows the steps, with a comment '# Step k: ...' "
             "for each step.")
_CODE_MODULAR = ("Then write one ```python code block: first small helper functions, one per sub-problem, "
                 "then the code that calls them.")
_PRINT = " The code must print the final answer."
_CODING = " Define the requested function with exactly the name and arguments the task gives."
_TEXT = "Write each step on its own line as 'Step 1: ...', 'Step 2: ...'. End with 'Answer:' and the final " \
        "answer as \\boxed{...}."


def guide(task_label: str, schema: str) -> str:
    """The system message for one action: the unified format under the given planning schema."""
    if not uses_tool(task_label):
        return "Solve the task in numbered steps. " + _TEXT
    steps = "Solve the task in numbered steps. Write the plan first, one line per step: 'Step 1: ...'. "
    body = _CODE_MODULAR if schema == "modular" else _CODE_COT
    return steps + body + (_CODING if task_label == "Coding" else _PRINT)


def annotation_guide(task, schema: str) -> str:
    """`guide` plus the reference solution the actor should annotate with steps (GT annotation)."""
    return guide(task.task, schema) + "\n\nA correct reference solution to follow:\n" + reference(task)


def reference(task) -> str:
    """What the actor is shown of the ground truth: code where it may use code, else a masked rationale."""
    if uses_tool(task.task) and task.solution:
        return code_block(task.solution)
    return mask_answer_numbers(task.rationale or "", task.answer)


def mask_answer_numbers(rationale: str, answer: str = "") -> str:
    """Hide results in a rationale: numbers after '=' and every mention of the final answer.

    >>> mask_answer_numbers("Step 1: 3 + 4 = 7 marbles. The answer is 7.", "7")
    'Step 1: 3 + 4 = ? marbles. The answer is ?.'
    """
    text = re.sub(r"=\s*-?\$?[\d,]*\.?\d+", "= ?", rationale)
    if answer.strip():
        text = re.sub(rf"(?<![\w.]){re.escape(answer.strip())}(?![\w]|\.\d)", "?", text)
    return text


def ground_truth_action(task, schema: str) -> str:
    """A deterministic correct action built from the task's rationale and solution, in the unified format.

    The last resort of section 2.3 when neither sampling nor annotation gave a correct action.
    """
    steps = _rationale_steps(task.rationale)
    if not uses_tool(task.task):
        return "\n".join(steps + ["Answer:", f"\\boxed{{{task.answer}}}"])
    code = modular_wrap(task.solution) if schema == "modular" and task.task != "Coding" else task.solution
    if task.task == "Coding" and not steps:
        steps = [f"Step 1: Write the function {task.entry_point or ''} as the task asks.".replace("  ", " ")]
    return "\n".join(steps) + "\n" + code_block(code)


def modular_wrap(solution: str) -> str:
    """Turn a flat solution program into one helper function plus the call (modular schema)."""
    body = "\n".join("    " + line if line.strip() else "" for line in solution.strip("\n").splitlines())
    head = [line for line in solution.splitlines() if line.startswith(("import ", "from "))]
    body = "\n".join(line for line in body.splitlines() if line.strip() not in head)
    imports = "\n".join(head) + ("\n\n" if head else "")
    return (f"{imports}# Helper: one function that carries out every step of the solution.\n"
            f"def solve():\n{body}\n\n\n# Call the helper, which prints the answer.\nsolve()\n")


def _rationale_steps(rationale: str) -> list[str]:
    lines = [ln.strip() for ln in (rationale or "").splitlines() if ln.strip()]
    if lines and all(re.match(r"Step \d+:", ln) for ln in lines):
        return lines
    return [f"Step {k}: {ln}" for k, ln in enumerate(lines, 1)]
