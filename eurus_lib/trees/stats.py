"""Statistics of grown trees, laid out like the paper's Table 1, plus where the correct actions came from.

    stats = tree_stats(trees, count_tokens=lambda s: len(tok(s).input_ids), max_turns=5)
    print(stats_markdown(stats))

Table 1 counts, per task type: instructions, trajectories ending at turn 1..5 (a tree's depth),
average tokens per trajectory, pairs and correct actions. Its rows split math by tool use; our
task labels do the same (Math_PoT: with the interpreter, Math_CoT: without). We add what a
small reproduction needs to read its own numbers honestly: the share of *sampled* actions that
were correct at each turn, and the source of every correct action kept (sampled from which
actor, annotated from the ground truth, or the ground-truth action itself), and how many rows
are distinct: `correct_distinct` counts SFT rows with a different (instruction, response), the
rows SFT trains on (`records.distinct_sft_rows`); `pairs_distinct` counts pairs with a different
(trajectory, chosen, rejected).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from ..tasks.base import TASK_LABELS
from .records import distinct_sft_rows, pair_rows, sft_rows
from .tree import Tree


def tree_stats(trees: Sequence[Tree], *, count_tokens: Callable[[str], int] | None = None,
               max_turns: int = 5) -> dict:
    """Table 1 rows per task label and in total, per-turn rates, the source mix and how trees ended."""
    count_tokens = count_tokens or (lambda s: len(s.split()))
    by_label = defaultdict(list)
    for tree in trees:
        by_label[tree.task["task"]].append(tree)
    labels = [lb for lb in TASK_LABELS if lb in by_label] + sorted(set(by_label) - set(TASK_LABELS))
    rows = [_table_row(lb, by_label[lb], count_tokens, max_turns) for lb in labels]
    rows.append(_table_row("Total", list(trees), count_tokens, max_turns))
    return {"table": rows, "per_turn": per_turn(trees, max_turns), "sources": source_mix(trees),
            "ends": dict(Counter(t.end for t in trees)), "turn1_correct_share": per_turn(trees, 1)[0]["share_correct"]
            if trees else None, "max_turns": max_turns}


def _table_row(label: str, trees: Sequence[Tree], count_tokens: Callable, max_turns: int) -> dict:
    depths = Counter(t.depth for t in trees)
    tokens = [trajectory_tokens(t, count_tokens) for t in trees]
    row = {"task": label, "instructions": len(trees)}
    row.update({f"T{k}": depths.get(k, 0) for k in range(1, max_turns + 1)})
    pairs = [r for t in trees for r in pair_rows(t)]
    sft = [r for t in trees for r in sft_rows(t)]
    row.update({"tokens_per_traj": round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
                "traj_per_instr": 1.0 if trees else 0.0, "pairs": len(pairs), "correct": len(sft),
                "pairs_distinct": len({_pair_key(r) for r in pairs}), "correct_distinct": len(distinct_sft_rows(sft))})
    return row


def _pair_key(row: dict) -> tuple:
    return tuple((m["from"], m["value"]) for m in row["trajectory"]) + (row["chosen"], row["rejected"])


def trajectory_tokens(tree: Tree, count_tokens: Callable[[str], int]) -> int:
    """Tokens of a tree's trajectory: instruction, each expanded turn with its feedback, the last action."""
    last = tree.turns[-1] if tree.turns else None
    final = None if last is None else (last.chosen_action or last.rejected_action)
    texts = [m["content"] for m in tree.history()] + ([final.text] if final else [])
    return sum(count_tokens(t) for t in texts)


def per_turn(trees: Sequence[Tree], max_turns: int) -> list[dict]:
    """For each turn: trees that reached it, sampled actions, the share of them correct, pairs made."""
    out = []
    for k in range(1, max_turns + 1):
        turns = [t.turns[k - 1] for t in trees if t.depth >= k]
        sampled = [a for turn in turns for a in turn.actions if a.source == "sampled"]
        right = sum(a.correct for a in sampled)
        out.append({"turn": k, "trees": len(turns), "sampled": len(sampled), "sampled_correct": right,
                    "share_correct": round(right / len(sampled), 3) if sampled else None,
                    "pairs": sum(t.chosen is not None and t.rejected is not None for t in turns)})
    return out


def source_mix(trees: Sequence[Tree]) -> dict:
    """How the kept correct actions (SFT rows) were found: {"sampled:<actor>": n, "annotated:<actor>": n, ...}."""
    mix = Counter()
    for tree in trees:
        for turn in tree.turns:
            a = turn.chosen_action
            if a is not None:
                mix["ground_truth" if a.source == "ground_truth" else f"{a.source}:{a.actor}"] += 1
    return dict(mix.most_common())


def stats_markdown(stats: dict) -> str:
    """The Table 1 layout as a markdown table, then the per-turn rates and the source mix."""
    rows = stats["table"]
    turns = [k for k in rows[0] if k.startswith("T") and k[1:].isdigit()] if rows else []
    head = ["Task", "#Instr", *turns, "Tokens/traj", "#Pairs", "#Correct"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["task"], r["instructions"], *[r[t] for t in turns], r["tokens_per_traj"], r["pairs"], r["correct"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "| Turn | Trees | Sampled actions | Correct | Share correct | Pairs |", "|---|---|---|---|---|---|"]
    for t in stats["per_turn"]:
        share = "-" if t["share_correct"] is None else f"{t['share_correct']:.1%}"
        lines.append(f"| {t['turn']} | {t['trees']} | {t['sampled']} | {t['sampled_correct']} | {share} | {t['pairs']} |")
    total = sum(stats["sources"].values()) or 1
    mix = ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in stats["sources"].items()) or "none"
    ends = ", ".join(f"{k or 'open'} {v}" for k, v in stats["ends"].items())
    return "\n".join(lines + ["", f"Correct actions kept, by source: {mix}.", f"How trees ended: {ends}.",
                              *_distinct_line(rows[-1] if rows else {})])


def _distinct_line(total: dict) -> list[str]:
    if "correct_distinct" not in total:  # stats.json written before these counts existed
        return []
    return [f"{total['correct_distinct']} of {total['correct']} SFT rows are distinct (same instruction and "
            f"response counted once; SFT trains on the distinct ones); {total['pairs_distinct']} of "
            f"{total['pairs']} pairs are distinct."]
