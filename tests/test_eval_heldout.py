"""Held-out pass@1: the trees' judge on fixed responses, accuracy tables with intervals, the Table 3 analog."""

import pytest
from trees_support import BROKEN, RIGHT, WRONG, code_task, logic_task, math_task, run_subprocess

from eurus_lib.eval.heldout import accuracy_table, compare_policies, comparison_markdown, judge, judge_samples
from eurus_lib.trees import Environment

DOUBLE = "Step 1: Return twice x.\n```python\ndef double(x):\n    return 2 * x\n```"
TRIPLE = "Step 1: Return x times 3.\n```python\ndef double(x):\n    return 3 * x\n```"


def records(flags_by_family):
    return [{"id": f"{fam}{i}", "family": fam, "correct": ok}
            for fam, flags in flags_by_family.items() for i, ok in enumerate(flags)]


def test_judge_reads_answers_and_runs_unit_tests_like_the_trees_stage():
    tasks = [math_task(0), math_task(1), math_task(2), code_task(), code_task(), logic_task()]
    responses = [RIGHT, WRONG, BROKEN, DOUBLE, TRIPLE, "Step 1: Ada is taller.\nAnswer: Ada"]
    rows = judge(tasks, responses, Environment(run_subprocess))
    assert [r["correct"] for r in rows] == [True, False, False, True, False, True]
    assert [r["error"] for r in rows] == ["", "wrong_answer", "syntax", "", "test_failed", ""]
    assert [r["predicted"] for r in rows[:2]] == ["7", "12"]
    assert rows[3]["family"] == "code" and rows[3]["task"] == "Coding" and rows[3]["response"] == DOUBLE
    assert set(rows[0]) == {"id", "family", "task", "dataset", "correct", "error", "predicted", "response"}


def test_judge_strips_responses_as_the_trees_stage_records_them():
    [row] = judge([math_task()], ["\n\n" + RIGHT + "\n  "], Environment(run_subprocess))
    assert row["correct"] and row["response"] == RIGHT


def test_judge_samples_keeps_each_samples_fields_and_adds_the_verdict():
    samples = [[{"response": RIGHT, "logprob": -0.5}, {"response": WRONG, "logprob": -0.1}], [{"response": DOUBLE}]]
    judged = judge_samples([math_task(), code_task()], samples, Environment(run_subprocess))
    assert [[s["correct"] for s in group] for group in judged] == [[True, False], [True]]
    assert judged[0][1]["logprob"] == -0.1 and judged[0][1]["predicted"] == "12"
    assert judged[1][0]["family"] == "code"


def test_accuracy_table_counts_each_family_and_all_with_wilson_intervals():
    table = accuracy_table(records({"math": [True] * 5 + [False] * 5, "code": [False] * 10}))
    assert list(table) == ["code", "math", "all"]
    assert table["math"]["n"] == 10 and table["math"]["correct"] == 5 and table["math"]["accuracy"] == 0.5
    assert table["math"]["low"] == pytest.approx(0.23659, abs=1e-5)
    assert table["code"]["high"] == pytest.approx(0.27754, abs=1e-5)
    assert table["all"]["n"] == 20 and table["all"]["accuracy"] == 0.25


def test_policy_comparison_lines_up_families_and_prints_a_table_3_analog():
    comparison = compare_policies({"base": records({"math": [False] * 4, "code": [False, True]}),
                                   "sft": records({"math": [True, True, False, False]})})
    assert comparison["groups"] == ["code", "math", "all"]
    text = comparison_markdown(comparison, paper={"paper Eurus-7B-SFT": {"math": 32.6}})
    lines = text.splitlines()
    assert lines[0] == "| policy | code (n=2) | math (n=4) | all (n=6) |"
    assert lines[2].startswith("| base | 50.0 [9-91] | 0.0 [0-49] | 16.7 [3-56] |")
    assert lines[3] == "| sft | - | 50.0 [15-85] | 50.0 [15-85] |"
    assert lines[4] == "| paper Eurus-7B-SFT | - | 32.6 | - |"
