"""Held-out pass@1 (paper section 4, Table 3): greedy answers, judged as the trees stage judges.

    from eurus_lib.eval.heldout import accuracy_table, answer_tasks, judge
    from eurus_lib.trees import Environment, sandbox_executor

    responses = answer_tasks(model, tok, heldout, max_new_tokens=192, batch_size=16)
    records = judge(heldout, responses, Environment(sandbox_executor(timeout_s=5, memory_mb=512)))
    accuracy_table(records)["math"]   # {"n": 12, "correct": 3, "accuracy": 0.25, "low": 0.089, "high": 0.532}

The prompt is the problem's UltraInteract instruction alone, rendered with the chat template, as
the SFT rows present it; decoding is greedy (the maintainers' setting, OpenBMB/Eurus#2). The judge
is `Environment.assess`, the one that labelled the trees' actions correct or wrong, so a policy is
scored by exactly the rule its training data was built with. Intervals are 95% Wilson intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..tasks import ultrainteract_instruction
from .intervals import wilson_interval
from .sampling import sample_n

ALL = "all"


def conversation(task) -> list[dict]:
    """The first user turn of an evaluation: the task's UltraInteract instruction."""
    return [{"role": "user", "content": ultrainteract_instruction(task)}]


def answer_tasks(model, tokenizer, tasks: Sequence, *, max_new_tokens: int = 192, batch_size: int = 16,
                 progress: bool | str = True, adapter_names: Sequence[str] | None = None) -> list[str]:
    """One greedy response per task, in order (length-sorted batches; finished answers leave the batch).

    adapter_names: per task, the LoRA adapter that answers it (`sampling.sample_n`).
    """
    replies = sample_n(model, tokenizer, [conversation(t) for t in tasks], 1, temperature=0.0,
                       max_new_tokens=max_new_tokens, batch_size=batch_size,
                       progress="answering" if progress is True else progress, adapter_names=adapter_names)
    return [r[0]["response"] for r in replies]


def judge(tasks: Sequence, responses: Sequence[str], environment) -> list[dict]:
    """One record per problem: {"id", "family", "task", "dataset", "correct", "error", "predicted", "response"}."""
    texts = [(r or "").strip() for r in responses]  # as the trees stage records actions (growth._record)
    outcomes = environment.assess(list(tasks), texts)
    return [{"id": t.id, "family": t.family, "task": t.task, "dataset": t.dataset, "correct": bool(o.correct),
             "error": o.error, "predicted": o.predicted, "response": text}
            for t, text, o in zip(tasks, texts, outcomes, strict=True)]


def judge_samples(tasks: Sequence, samples: Sequence[Sequence[dict]], environment) -> list[list[dict]]:
    """Judge N samples per task in one environment call; each sample dict gains the judge's fields."""
    flat_tasks = [t for t, group in zip(tasks, samples, strict=True) for _ in group]
    flat = judge(flat_tasks, [s["response"] for group in samples for s in group], environment)
    it = iter(flat)
    return [[{**s, **{k: v for k, v in next(it).items() if k != "response"}} for s in group] for group in samples]


def accuracy_table(records: Sequence[dict], by: str = "family") -> dict[str, dict]:
    """Per group (`by` is any record field) and "all": n, correct, accuracy and the 95% Wilson interval."""
    groups: dict[str, list[bool]] = {}
    for r in records:
        groups.setdefault(str(r[by]), []).append(bool(r["correct"]))
    groups = dict(sorted(groups.items()))
    groups[ALL] = [bool(r["correct"]) for r in records]
    return {name: _cell(sum(flags), len(flags)) for name, flags in groups.items()}


def _cell(k: int, n: int) -> dict:
    low, high = wilson_interval(k, n)
    return {"n": n, "correct": k, "accuracy": k / n if n else 0.0, "low": low, "high": high}


def compare_policies(records_by_policy: Mapping[str, Sequence[dict]], by: str = "family") -> dict:
    """A Table 3 analog: {"groups": [...], "policies": {name: accuracy_table}} in the order given."""
    tables = {name: accuracy_table(records, by) for name, records in records_by_policy.items()}
    groups = sorted({g for table in tables.values() for g in table if g != ALL}) + [ALL]
    return {"groups": groups, "policies": tables}


def comparison_markdown(comparison: dict, paper: Mapping[str, Mapping[str, float]] | None = None) -> str:
    """Markdown: one row per policy, cells "accuracy% [low-high]" with n in the header.

    `paper` adds rows of published numbers in percent ({row label: {group: value}}), shown beside ours.
    """
    groups, tables = comparison["groups"], comparison["policies"]
    sizes = {g: max((t[g]["n"] for t in tables.values() if g in t), default=0) for g in groups}
    lines = ["| policy | " + " | ".join(f"{g} (n={sizes[g]})" for g in groups) + " |",
             "|---|" + "---|" * len(groups)]
    for name, table in tables.items():
        cells = [_format_cell(table[g]) if g in table else "-" for g in groups]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for label, values in (paper or {}).items():
        lines.append(f"| {label} | " + " | ".join(f"{values[g]:.1f}" if g in values else "-" for g in groups) + " |")
    return "\n".join(lines)


def _format_cell(cell: dict) -> str:
    return f"{100 * cell['accuracy']:.1f} [{100 * cell['low']:.0f}-{100 * cell['high']:.0f}]"
