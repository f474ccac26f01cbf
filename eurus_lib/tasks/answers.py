"""Find the final answer in an action or a program's output, and judge it against ground truth.

    >>> extract_final_answer("Step 1: ...\\nAnswer: \\\\boxed{1,234}")
    '1,234'
    >>> answers_match(task, "$1,234.00")   # task.answer == "1234"
    True

The environment of a tree (paper section 2.2) gives binary feedback, correct or wrong, against
the ground-truth answer; this module is that judge for math and logic (code is judged by tests).

Extraction rules, first match wins (`extract_final_answer`):
1. the last ``\\boxed{...}`` (braces balanced), as the Math_CoT prefix asks;
2. the last ``<solution>...</solution>`` (the MINT/CodeAct tags of the paper's Fig. 3);
3. the last line with an answer marker: "Answer: X", "Final answer: X", "The (final) answer is X"
   (an empty "Answer:" takes the next non-empty line);
4. the last "Out: X" line (the observation format of the released trajectories);
5. the last non-empty line, when it is a bare number (e.g. "42" or "$1,234.50").
With `printed=True` (the text is a program's stdout, where printing the answer is the
Program-of-Thought convention) rule 5 takes the last non-empty line whatever it holds.
A number in running prose is never taken: "clearly marked" means one of the rules above.

Matching (`answers_match`) depends on the kind of answer, `task.meta["answer_kind"]`:
"number" (default when the answer parses as a number), "name", "sequence" (ordered names)
or "set" (names in any order). Its input is read with `printed=True`; an unmarked sequence or
set may also be the whole text, so names printed one per line count too. Numbers may carry commas, currency, units, a percent sign or
be fractions (``3/4``, ``\\frac{3}{4}``); they match within a relative 1e-6.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .base import Task

_MARKER = re.compile(r"(?i)(?:final answer|answer)\s*(?:is)?\s*[:=]\s*(.*)$|(?:the (?:final )?|final )answer is\s*[:=]?\s*(.*)$")
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+")
_FRACTION = re.compile(r"(-?\d+)\s*/\s*(\d+)")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")
_BARE_NUMBER = re.compile(r"^[$€£]?\s*-?[\d,]*\.?\d+\s*%?\.?$")
_SEPARATORS = re.compile(r"\s*(?:,|;|->|→|>|\n|\band\b|\bthen\b)\s*", re.IGNORECASE)


def extract_final_answer(text: str | None, *, printed: bool = False) -> str | None:
    """The final answer marked in `text` (rules in the module docstring), or None."""
    if not text or not text.strip():
        return None
    found = _marked(text)
    if found:
        return found
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    if printed or _BARE_NUMBER.match(last):
        return _clean(last) or None
    return None


def answers_match(task: Task, predicted: str | None) -> bool:
    """True when `predicted` (a marked answer, a printed output or the bare value) equals the task's answer."""
    if predicted is None or not task.answer:
        return False
    kind = answer_kind(task)
    value = extract_final_answer(predicted, printed=True) or ""
    if kind in ("sequence", "set") and not _marked(predicted):  # names may also come one per line
        return _same(kind, value, task.answer) or _same(kind, predicted, task.answer)
    return _same(kind, value, task.answer)


def _same(kind: str, value: str, answer: str) -> bool:
    if kind == "number":
        want, got = parse_number(answer), parse_number(value)
        return want is not None and got is not None and _close(want, got)
    if kind == "sequence":
        return _names(value) == _names(answer)
    if kind == "set":
        return sorted(_names(value)) == sorted(_names(answer))
    return _fold(value) == _fold(answer)


def answer_kind(task: Task) -> str:
    """How to compare answers for `task`: number, name, sequence or set."""
    kind = task.meta.get("answer_kind") if task.meta else None
    if kind:
        return kind
    return "number" if parse_number(task.answer) is not None else "name"


def parse_number(text: str) -> Fraction | None:
    """The single number in `text` (units and currency ignored), or None if there is none or several."""
    text = _clean(text).replace("−", "-")
    latex = _LATEX_FRAC.fullmatch(text.strip())
    if latex:
        return Fraction(int(latex[1]), int(latex[2])) if int(latex[2]) else None
    frac = _FRACTION.search(text)
    if frac and len(_NUMBER.findall(text)) == 2 and int(frac[2]):
        return Fraction(int(frac[1]), int(frac[2]))
    numbers = _NUMBER.findall(text)
    if len(numbers) != 1:
        return None
    return Fraction(numbers[0].replace(",", ""))


def format_number(value: Fraction | int | float) -> str:
    """Canonical text for a ground-truth number: '42', '37.5', '-0.25' (no trailing zeros)."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == value else f"{value.numerator}/{value.denominator}"


def _close(a: Fraction, b: Fraction) -> bool:
    return a == b or abs(a - b) <= Fraction(1, 10**6) * max(abs(a), abs(b), 1)


def _names(text: str) -> list[str]:
    parts = (re.sub(r"^\(?\d+[.)]\s*", "", p.strip()) for p in _SEPARATORS.split(_clean(text)))  # "1. Ada"
    return [_fold(part) for part in parts if _fold(part)]


def _fold(text: str) -> str:
    return " ".join(_clean(text).casefold().split())


def _clean(text: str) -> str:
    """Strip wrappers that carry no answer: $..$, \\text{..}, **bold**, quotes, a trailing period."""
    text = text.strip()
    inner = _last_boxed(text)
    if inner is not None:
        text = inner
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", text)
    text = text.replace("\\$", "$").replace("\\%", "%").replace("\\(", "").replace("\\)", "")
    text = text.strip().strip("*`'\"").strip()
    if len(text) >= 2 and text[0] == text[-1] == "$":
        text = text[1:-1].strip()
    return text.rstrip(".").strip()


def _marked(text: str) -> str | None:
    """Rules 1-4: an answer the text marks as such."""
    for rule in (_last_boxed, _last_solution_tag, _last_marker, _last_out_line):
        found = rule(text)
        if found:
            return found
    return None


def _last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 1, start + len("\\boxed{")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j].strip()
    return None


def _last_solution_tag(text: str) -> str | None:
    found = re.findall(r"<solution>(.*?)</solution>", text, flags=re.DOTALL)
    return _clean(found[-1]) if found and _clean(found[-1]) else None


def _last_marker(text: str) -> str | None:
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        m = _MARKER.search(lines[i])
        if not m:
            continue
        value = (m[1] if m[1] is not None else m[2] or "").strip()
        if not value:
            value = next((ln.strip() for ln in lines[i + 1:] if ln.strip()), "")
        value = _clean(value)
        if value:
            return value
    return None


def _last_out_line(text: str) -> str | None:
    found = re.findall(r"^Out:\s*(.+)$", text, flags=re.MULTILINE)
    return _clean(found[-1]) if found else None
