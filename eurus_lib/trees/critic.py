"""Critique (paper section 2.2): knowing the ground truth, locate the error and suggest a fix.

    critic = RuleCritic()
    [text] = critic.critique_many([CritiqueRequest(task, action_text, outcome)])
    # "In Step 2, `17 + 4 = 22` is wrong: 17 + 4 = 21. Redo the calculation from that step on."

The paper asks GPT-4 for the critique and gives it the ground-truth answer, "to avoid bias
introduced by self-correction". Three critics share one interface, `critique_many(requests)`:
- `RuleCritic`: deterministic and free, for the tiny preset. It names the missing answer, the
  syntax or runtime error and its line, the failing unit test, or the first wrong arithmetic
  claim in the steps; else it points at the first step of the reference solution the action
  never reached (numbers masked). It never states the ground-truth answer.
- `ModelCritic`: a local chat model from the kit's loaders, batched with `generate_chat`.
- `OpenAICritic`: any OpenAI-compatible endpoint given by URL (`openai_api.chat`).
Model critics fall back to the rule critique when they return nothing.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .environment import Outcome
from .prompts import mask_answer_numbers


@dataclass
class CritiqueRequest:
    task: object  # eurus_lib.tasks.Task
    action: str
    outcome: Outcome


class RuleCritic:
    """Rule-based critique from the outcome and the ground truth (see the module docstring)."""

    name = "rule"

    def critique_many(self, requests: Sequence[CritiqueRequest]) -> list[str]:
        return [rule_critique(r.task, r.action, r.outcome) for r in requests]


def rule_critique(task, action: str, outcome: Outcome) -> str:
    """One critique; the message it follows already says "Your answer is wrong."."""
    error, detail = outcome.error, outcome.detail
    if error in ("empty", "no_answer"):
        how = "print it from a python code block" if task.task != "Math_CoT" else "end with 'Answer:' and \\boxed{...}"
        what = "the requested function in a python code block" if task.task == "Coding" else "a final answer"
        return f"The response never gives {what}. Work through the steps and {how}."
    if error == "syntax":
        return f"The code does not compile ({detail}). Close every bracket, string and the ``` block, then run it again."
    if error == "timeout":
        return "The code did not finish in time. Avoid unbounded loops and brute force over huge ranges."
    if error == "exec_error":
        return f"The code stops with an error at {detail}. {_error_hint(detail)}"
    if error == "no_output":
        return "The code runs but prints nothing, so there is no answer to check. Print the final answer."
    if error == "test_failed":
        return (f"A unit test fails: {detail or 'the function returns a wrong value'}. Trace the function by hand "
                "on that input and fix the case it gets wrong.")
    return _wrong_answer(task, action, outcome)


def _wrong_answer(task, action: str, outcome: Outcome) -> str:
    got = f"Your answer {outcome.predicted!r} is not correct. " if outcome.predicted else ""
    claim = first_wrong_arithmetic(action)
    if claim:
        return got + f"In {claim}. Redo the calculation from that step on."
    if task.family == "logic":
        return got + ("Check the answer against every clue in turn: at least one clue is broken. A program that "
                      "tries every candidate and keeps the one meeting all clues avoids this.")
    missing = first_missing_step(task, action)
    if missing:
        return got + f"The steps go wrong at or before this step of a correct solution: \"{missing}\". Re-read the " \
                     "problem sentence it covers and redo it."
    return got + "Re-read each sentence of the problem and check that every step uses the right quantity."


def _error_hint(detail: str) -> str:
    hints = {"NameError": "Define every variable before it is used.",
             "ZeroDivisionError": "A divisor is zero; check the quantity you divide by.",
             "TypeError": "A value has the wrong type; convert it before the operation.",
             "IndexError": "An index runs past the end of a list.", "KeyError": "A key is missing from a dict.",
             "EOFError": "The task gives no input; do not call input()."}
    return next((h for k, h in hints.items() if k in detail), "Fix that line and run the steps again.")


_CLAIM = re.compile(r"((?:\(?-?\d+(?:\.\d+)?\)?\s*[-+*/×x÷]\s*)+\(?-?\d+(?:\.\d+)?\)?)\s*=\s*(-?\d[\d,]*(?:\.\d+)?)")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def first_wrong_arithmetic(text: str) -> str | None:
    """'Step 2, `17 + 4 = 22` is wrong: 17 + 4 = 21' for the first false 'a op b = c' claim, or None.

    >>> first_wrong_arithmetic("Step 1: 3 + 4 = 7\\nStep 2: 7 * 2 = 15")
    'Step 2, `7 * 2 = 15` is wrong: 7 * 2 = 14'
    """
    for m in _CLAIM.finditer(text or ""):
        value = _evaluate(m.group(1))
        claimed = _number(m.group(2))
        if value is None or claimed is None or abs(value - claimed) <= Fraction(1, 100):
            continue
        steps = re.findall(r"Step\s*(\d+)", text[:m.start()])
        where = f"Step {steps[-1]}" if steps else "the working"
        return f"{where}, `{m.group(0).strip()}` is wrong: {m.group(1).strip()} = {_show(value)}"
    return None


def first_missing_step(task, action: str) -> str | None:
    """The first reference-rationale step whose result never appears in the action (numbers masked)."""
    numbers = {_number(n) for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", action or "")}
    for line in (task.rationale or "").splitlines():
        results = [_number(n) for n in re.findall(r"=\s*(-?\d[\d,]*(?:\.\d+)?)", line)]
        if results and results[-1] not in numbers:
            return mask_answer_numbers(line.strip(), task.answer)
    return None


def _evaluate(expr: str) -> Fraction | None:
    expr = expr.replace("×", "*").replace("÷", "/").replace("x", "*")
    try:
        return _eval_node(ast.parse(expr, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, KeyError, TypeError):
        return None


def _eval_node(node) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval_node(node.operand)
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_eval_node(node.left), _eval_node(node.right))
    raise ValueError("not arithmetic")


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"
