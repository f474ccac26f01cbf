"""Benchmark loaders on local files in each dataset's released layout, judged by the trees' judge."""

from pathlib import Path

import pytest
from trees_support import run_subprocess

from eurus_lib.errors import DataError, KitError
from eurus_lib.eval import benchmarks
from eurus_lib.eval.benchmarks import benchmark_tasks, load_benchmark
from eurus_lib.eval.heldout import judge
from eurus_lib.trees import Environment

DATA = Path(__file__).resolve().parents[1] / "data" / "benchmarks"
FILES = {"gsm8k": "gsm8k_test.jsonl", "math": "math_test.jsonl", "mbpp": "mbpp_test.jsonl",
         "humaneval": "humaneval_test.jsonl", "gsm_plus": "gsm_plus_test.jsonl", "svamp": "svamp_test.json",
         "asdiv": "asdiv_validation.jsonl", "theoremqa": "theoremqa_test.json",
         "bbh": "bbh_boolean_expressions.json", "leetcode": "leetcode-test.json"}


def load(name, **kw):
    return load_benchmark(name, path=DATA / FILES[name], **kw)


def stated(answer):
    return f"Step 1: Work it out.\nAnswer: \\boxed{{{answer}}}"


def test_gsm8k_answer_follows_the_hashes_and_calculator_marks_leave_the_rationale():
    tasks = load("gsm8k")
    assert [t.answer for t in tasks] == ["15", "22", "7", "1400"]
    assert tasks[0].family == "math" and tasks[0].task == "Math_CoT" and tasks[0].dataset == "gsm8k"
    assert tasks[0].prompt.startswith("Mia has 12 pencils") and "<<" not in tasks[0].rationale
    assert "12 - 5 = 7 pencils" in tasks[0].rationale
    assert load("gsm8k", label="Math_PoT")[0].task == "Math_PoT"


def test_math_answer_is_the_last_boxed_expression_with_its_braces():
    tasks = load("math")
    assert [t.answer for t in tasks] == ["\\frac{5}{6}", "10", "5\\sqrt{2}", "4"]
    assert [t.meta["answer_kind"] for t in tasks] == ["number", "number", "name", "number"]
    assert tasks[1].meta["type"] == "Counting & Probability" and tasks[1].meta["level"] == "Level 2"


def test_math_word_problem_sets_read_their_own_answer_fields():
    assert [t.answer for t in load("gsm_plus")] == ["17", "15"]  # the critical-thinking row has none
    assert load("gsm_plus")[0].meta["perturbation_type"] == "numerical substitution"
    svamp = load("svamp")
    assert [t.answer for t in svamp] == ["51", "15", "8"]
    assert svamp[0].prompt == "Each box of markers costs 76 dollars. There is a discount of 25 dollars on each " \
                              "box How much do you pay for one box?"
    assert [t.answer for t in load("asdiv")] == ["11", "18", "54"]


def test_theoremqa_keeps_text_rows_and_compares_lists_item_by_item():
    tasks = load("theoremqa")
    assert [t.answer for t in tasks] == ["0.5", "True", "1, 3, 5"]  # the row with a picture is skipped
    assert [t.meta["answer_kind"] for t in tasks] == ["number", "name", "sequence"]


def test_math_benchmark_answers_are_judged_like_tree_actions():
    tasks = load("gsm8k") + load("math") + load("svamp") + load("asdiv") + load("theoremqa")
    env = Environment(run_subprocess)
    right = judge(tasks, [stated(t.answer) for t in tasks], env)
    assert all(r["correct"] for r in right), [r for r in right if not r["correct"]]
    wrong = judge(tasks, [stated("41.5")] * len(tasks), env)
    assert not any(r["correct"] for r in wrong)
    [pot] = judge(load("gsm8k", label="Math_PoT")[:1], ["Step 1: add.\n```python\nprint(12 - 5 + 8)\n```"], env)
    assert pot["correct"] and pot["predicted"] == "15"


def test_mbpp_rows_become_code_tasks_whose_tests_call_the_function_by_name():
    tasks = load("mbpp")
    assert [t.entry_point for t in tasks] == ["sum_of_squares", "is_Perfect_Square", "count_vowels"]
    assert tasks[0].prompt.endswith("Your code should pass these tests:\n\nassert sum_of_squares(1) == 1\n"
                                    "assert sum_of_squares(3) == 14\nassert sum_of_squares(10) == 385")
    assert tasks[2].tests.splitlines()[:2] == ["def check(candidate):", "    words = ['apple', 'sky']"]
    sanitized = benchmark_tasks("mbpp", [{"task_id": 2, "prompt": "Write a function to add one.",
                                          "code": "def add_one(x):\n    return x + 1",
                                          "test_imports": ["import math"], "test_list": ["assert add_one(1) == 2"]}])
    assert sanitized[0].prompt.startswith("Write a function to add one.") and "import math" in sanitized[0].tests


def test_code_benchmarks_pass_their_reference_solutions_and_fail_wrong_ones():
    tasks = load("mbpp") + load("humaneval")
    right = [f"Step 1: Solve it.\n```python\n{t.solution}\n```" for t in tasks]
    wrong = [f"```python\ndef {t.entry_point}(*args):\n    return None\n```" for t in tasks]
    env = Environment(run_subprocess)
    assert [r["correct"] for r in judge(tasks, right, env)] == [True] * 6
    assert [r["correct"] for r in judge(tasks, wrong, env)] == [False] * 6
    assert tasks[3].meta["task_id"] == "HumanEval/0" and tasks[3].entry_point == "has_close_elements"


def test_leetcode_rows_check_a_solution_method_and_keep_their_difficulty():
    tasks = load("leetcode")
    assert [t.entry_point for t in tasks] == ["Solution().sumOfEvens", "Solution().longestRun"]
    assert [t.meta["difficulty"] for t in tasks] == ["Easy", "Medium"]
    assert "check(Solution()" not in tasks[0].tests and tasks[0].prompt.startswith("Problem:\nGiven an integer")
    solution = ("```python\nfrom typing import List\n\nclass Solution:\n    def sumOfEvens(self, nums: List[int]) -> int:"
                "\n        return sum(x for x in nums if x % 2 == 0)\n```")
    odd_sum = solution.replace("== 0)", "== 1)")
    rows = judge([tasks[0], tasks[0]], [solution, odd_sum], Environment(run_subprocess))
    assert [r["correct"] for r in rows] == [True, False]


def test_bbh_targets_are_compared_as_text():
    tasks = load("bbh")
    assert [t.answer for t in tasks] == ["False", "True", "False"] and tasks[0].family == "logic"
    rows = judge(tasks[:2], ["Step 1: evaluate.\nAnswer: False", "The answer is: true"], Environment(run_subprocess))
    assert [r["correct"] for r in rows] == [True, True]


def test_an_unreachable_hub_is_one_sentence_naming_every_source(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'x' on the Hub (LocalEntryNotFoundError)\nTraceback details ...")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(KitError) as err:
        load_benchmark("math")
    message = str(err.value)
    assert "hendrycks/competition_math" in message and "EleutherAI/hendrycks_math" in message
    assert "path=" in message and "\n" not in message and "Traceback" not in message


def test_the_next_hub_source_is_tried_when_the_first_is_gone(monkeypatch):
    import datasets

    calls = []

    def hub(path, config, split):
        calls.append((path, config, split))
        if path == "hendrycks/competition_math":
            raise FileNotFoundError("Dataset 'hendrycks/competition_math' doesn't exist on the Hub")
        return [{"problem": f"{config}?", "level": "Level 1", "type": config, "solution": "\\boxed{1}"}]

    monkeypatch.setattr(datasets, "load_dataset", hub)
    tasks = load_benchmark("math")
    assert calls[0] == ("hendrycks/competition_math", None, "test") and len(calls) == 8
    assert [t.meta["type"] for t in tasks] == list(benchmarks.MATH_SUBJECTS)


def test_benchmarks_without_a_kit_judge_or_a_name_are_refused_clearly(tmp_path):
    with pytest.raises(KitError, match="instruction checkers"):
        load_benchmark("ifeval")
    with pytest.raises(KitError, match="Unknown benchmark 'gsm9k'"):
        load_benchmark("gsm9k")
    with pytest.raises(KitError, match="not on the Hugging Face hub"):
        load_benchmark("leetcode")
    with pytest.raises(DataError, match="GSM8K row 1 is not in the released format"):
        benchmark_tasks("gsm8k", [{"question": "q", "answer": "#### 1"}, {"question": "q"}])
    assert len(load("gsm8k", limit=2)) == 2
