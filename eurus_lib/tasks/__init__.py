"""Problems with ground truth for the preference trees: math, code and logic families.

    from eurus_lib.config import load_config
    from eurus_lib.tasks import generate_tasks, ultrainteract_instruction, answers_match

    splits = generate_tasks(load_config("tiny").tasks, seed=0)
    task = splits.train[0]
    print(ultrainteract_instruction(task))      # the first user turn, as UltraInteract writes it
    answers_match(task, "Answer: \\\\boxed{42}")  # binary feedback for math / logic

Public API (names are stable; the tree builder codes against them):

- `Task` (base.py): frozen record; `task` is the UltraInteract label, one of `TASK_LABELS`
  ("Math_PoT", "Math_CoT", "Coding", "Logic"); `id` is the sha256 that becomes the tree's parent_id. `difficulty` is
  1..5 for generated tasks and 0 for HumanEval (not rated). `meta["answer_kind"]` says how
  answers compare ("number", "name", "sequence", "set"); code tasks have `tests` instead.
- `generate_tasks(settings, seed) -> TaskSplits(train, heldout, report)`: deterministic from
  the seed; held-out problems are 8-gram decontaminated against training ones (paper App. A.3)
  and `report` (a `DecontaminationReport`) says how many were removed; final overlap is 0.
- `math_task`, `code_task`, `logic_task` `(rng, difficulty, dataset=..., pool="train") -> Task`:
  one problem of a family; `humaneval_tasks(n) -> list[Task]`: HumanEval as code tasks.
- `ultrainteract_instruction(task) -> str`: prefix + problem, the exact UltraInteract text
  (`PREFIXES` holds the prefixes).
- `extract_final_answer(text, printed=False) -> str | None` and
  `answers_match(task, predicted) -> bool`: the judge (rules in answers.py's docstring). For
  an action, pass its text; for a program's stdout pass it with `printed=True` (the last line
  counts) - `answers_match` itself treats its input as printed output when nothing is marked.
- `save_tasks(tasks, path)`, `load_tasks(path)`: JSONL; `save_splits(splits, folder)` /
  `load_splits(folder)`: train.jsonl, heldout.jsonl and decontamination.json in one folder.
- `decontaminate(train, heldout, n=8) -> (kept, removed)`, `ngrams(text, n=8)`.
"""

from .answers import answer_kind, answers_match, extract_final_answer, format_number, parse_number
from .base import TASK_LABELS, Task
from .code_tasks import code_task
from .decontam import decontaminate, ngrams, overlap_count
from .humaneval import humaneval_tasks
from .io import load_splits, load_tasks, save_splits, save_tasks
from .logic_tasks import logic_task
from .math_tasks import math_task
from .prompts import PREFIXES, ultrainteract_instruction
from .splits import DecontaminationReport, TaskSplits, generate_tasks

__all__ = [
    "PREFIXES",
    "TASK_LABELS",
    "DecontaminationReport",
    "Task",
    "TaskSplits",
    "answer_kind",
    "answers_match",
    "code_task",
    "decontaminate",
    "extract_final_answer",
    "format_number",
    "generate_tasks",
    "humaneval_tasks",
    "load_splits",
    "load_tasks",
    "logic_task",
    "math_task",
    "ngrams",
    "overlap_count",
    "parse_number",
    "save_splits",
    "save_tasks",
    "ultrainteract_instruction",
]
