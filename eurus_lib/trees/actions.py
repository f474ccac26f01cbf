"""The unified action format (paper section 2.2) and a parser that never fails on what a model writes.

    >>> a = parse_action("Step 1: Add the two counts.\\n```python\\n# Step 1: add\\nprint(3 + 4)\\n```")
    >>> a.steps, a.code, a.answer, a.syntax_error
    (['Add the two counts.'], '# Step 1: add\\nprint(3 + 4)', None, None)

An action is one assistant turn. As in the released UltraInteract rows it decomposes the
problem into "Step k: ..." lines; where a Python interpreter is available (Math_PoT, Logic,
Coding) it then writes one fenced python block whose comments are "# Step k: ...", and
the final answer is what that code prints (Program-of-Thought). Without a tool (Math_CoT) it
ends with "Answer:" and the answer in \\boxed{...}. Per action the actor follows one of two
planning schemas, sampled at random (section 2.2): plain chain of thought (`cot`) or modular
programming (`modular`: small helper functions first, then code that uses them; the paper
cites CREATOR and CRAFT). Anything the parser cannot read becomes a `problem`, which the
environment turns into an incorrect action with an observation saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOOL_TASKS = ("Math_PoT", "Logic", "Coding")  # tasks whose instruction offers the Python interpreter
NO_OUTPUT = "[Executed Successfully with No Output]"  # the released rows' observation for silent code

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)
_STEP = re.compile(r"^\s*(?:[#*]+\s*)?\**Step\s*(\d+)\**\s*[:.)-]\s*(.*)$", re.IGNORECASE | re.MULTILINE)
PYTHON_LABELS = ("", "python", "py", "python3")


@dataclass
class ParsedAction:
    """What the environment needs from an action's text."""

    steps: list[str] = field(default_factory=list)  # text of each "Step k:" line outside the code
    code: str = ""  # the python blocks, joined (a stateful notebook runs them in order)
    answer: str | None = None  # the answer the text states outside the code ("Answer:", \\boxed{})
    syntax_error: str | None = None  # "SyntaxError: ... (line n)" when the code does not compile
    problems: list[str] = field(default_factory=list)  # why the action cannot be judged as an answer


def uses_tool(task_label: str) -> bool:
    """True when the task's instruction offers the Python interpreter (released prefixes)."""
    return task_label in TOOL_TASKS


def parse_action(text: str | None, *, tool: bool = True) -> ParsedAction:
    """Read steps, code and stated answer out of an action; garbage gives `problems`, never an error.

    With `tool=False` (Math_CoT) code blocks are ignored: there is no interpreter to run them.
    """
    from ..tasks.answers import extract_final_answer

    text = text if isinstance(text, str) else ""
    blocks = [m.group(2) for m in _FENCE.finditer(text) if m.group(1).lower() in PYTHON_LABELS]
    prose = _FENCE.sub("\n", text)
    parsed = ParsedAction(steps=[m.group(2).strip() for m in _STEP.finditer(prose)])
    parsed.answer = extract_final_answer(prose)
    if tool:
        parsed.code = "\n".join(b.strip("\n") for b in blocks if b.strip())
        parsed.syntax_error = syntax_error(parsed.code) if parsed.code else None
    if not text.strip():
        parsed.problems.append("The response is empty.")
    elif not parsed.code and parsed.answer is None:
        parsed.problems.append("The response has no python code block and states no final answer."
                               if tool else "The response states no final answer (no \\boxed{...}).")
    return parsed


def syntax_error(code: str) -> str | None:
    """The SyntaxError Python reports for `code`, or None when it compiles (paper App. A.2 check)."""
    try:
        compile(code, "main.py", "exec")
    except SyntaxError as exc:
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return f"SyntaxError: {type(exc).__name__}: {exc}"[:200]
    return None


def code_block(code: str) -> str:
    """A fenced python block, as actions write code."""
    return f"```python\n{code.strip(chr(10))}\n```"
