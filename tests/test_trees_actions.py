"""The unified action format, the environment's judgement and the rule critic."""

import pytest
from trees_support import RIGHT, WRONG, code_task, logic_task, math_task, run_subprocess

from eurus_lib.trees import Environment, parse_action, rule_critique, sandbox_executor
from eurus_lib.trees.actions import NO_OUTPUT
from eurus_lib.trees.critic import first_missing_step, first_wrong_arithmetic
from eurus_lib.trees.prompts import ground_truth_action, guide, mask_answer_numbers, modular_wrap

GARBAGE = [None, "", "   \n", "\x00\x01\x02", "```", "```python", "```python\n", "Step", "Step 1:",
           "```python\n" + "(" * 500 + "\n```", "}{" * 50, "```python\nprint('a')\x00\n```", 42, "😀" * 100,
           "Answer:", "\\boxed{", "```python\ndef f(:\n```\n```python\nprint(1)\n```"]


@pytest.mark.parametrize("text", GARBAGE)
def test_parser_never_fails_and_environment_marks_garbage_incorrect(text):
    parse_action(text)
    [outcome] = Environment(run_subprocess).assess([math_task()], [text])
    assert outcome.correct is False and outcome.error


def test_parser_reads_steps_code_and_stated_answer():
    p = parse_action("Step 1: Add 3 and 4.\nStep 2: Print it.\n```python\nprint(3 + 4)\n```\nAnswer: \\boxed{7}")
    assert p.steps == ["Add 3 and 4.", "Print it."] and p.code == "print(3 + 4)" and p.answer == "7"
    assert p.problems == [] and p.syntax_error is None


def test_parser_joins_python_blocks_ignores_other_languages_and_keeps_an_unclosed_block():
    p = parse_action("```python\nx = 3\n```\n```bash\nrm -rf /\n```\n```\ny = 4\n```\n```python\nprint(x + y)")
    assert p.code == "x = 3\ny = 4\nprint(x + y)"


def test_without_tool_code_blocks_are_not_read():
    p = parse_action("```python\nprint(7)\n```", tool=False)
    assert p.code == "" and p.problems == ["The response states no final answer (no \\boxed{...})."]


def judge(task, text):
    return Environment(run_subprocess, observation_chars=80).assess([task], [text])[0]


def test_printed_answer_is_judged_against_ground_truth():
    assert judge(math_task(), RIGHT).correct and judge(math_task(), RIGHT).observation == "7"
    wrong = judge(math_task(), WRONG)
    assert (wrong.correct, wrong.error, wrong.predicted) == (False, "wrong_answer", "12")


def test_stated_answer_counts_when_no_code_prints():
    assert judge(math_task(), "Step 1: 3 + 4 = 7.\nAnswer:\n\\boxed{7}").correct
    silent = judge(math_task(), "```python\nx = 7\n```\nAnswer: 7")
    assert silent.correct and silent.observation == NO_OUTPUT
    assert judge(math_task(), "```python\nx = 7\n```").error == "no_output"


def test_math_cot_has_no_interpreter_so_only_the_stated_answer_counts():
    task = math_task(label="Math_CoT")
    assert not judge(task, RIGHT).correct and not judge(task, RIGHT).ran_code
    assert judge(task, "Step 1: 3 + 4 = 7\nAnswer:\n\\boxed{7}").correct


def test_runtime_error_observation_is_the_traceback_tail():
    out = judge(math_task(), "```python\nx = 3\nprint(x + y)\n```")
    assert out.error == "exec_error" and "NameError" in out.observation and "print(x + y)" in out.detail


def test_syntax_error_is_observed_without_running():
    out = judge(math_task(), "```python\nprint((3 + 4)\n```")
    assert out.error == "syntax" and out.observation.startswith("SyntaxError") and out.ran_code


def test_long_output_is_capped_keeping_its_tail():
    out = judge(math_task(), "```python\nfor i in range(500):\n    print(i)\nprint(7)\n```")
    assert out.correct and len(out.observation) <= 83 and out.observation.endswith("7")


def test_timeout_is_an_incorrect_action():
    env = Environment(lambda programs: run_subprocess(programs, timeout_s=0.5), timeout_s=0.5)
    [out] = env.assess([math_task()], ["```python\nwhile True:\n    pass\n```"])
    assert out.error == "timeout" and "timed out" in out.observation


def test_code_is_judged_by_the_unit_tests_and_the_failing_test_is_named():
    assert judge(code_task(), "```python\ndef double(x):\n    return x + x\n```").correct
    bad = judge(code_task(), "```python\ndef double(x):\n    return x * x\n```")
    assert bad.error == "test_failed" and "assert candidate(-3) == -6" in bad.detail
    assert judge(code_task(), "The answer is 4.").error == "no_answer"


@pytest.mark.parametrize("executor", ["sandbox", "subprocess"])
@pytest.mark.parametrize("ending", ["quit()", "import sys\nsys.exit(0)", "import os\nos._exit(0)"])
def test_a_wrong_function_followed_by_an_early_exit_is_judged_incorrect(executor, ending):
    run = sandbox_executor(timeout_s=5, memory_mb=512) if executor == "sandbox" else run_subprocess
    env = Environment(run)
    [out] = env.assess([code_task()], [f"```python\ndef double(x):\n    return x * x\n{ending}\n```"])
    assert (out.correct, out.error) == (False, "test_failed") and "ended before" in out.detail
    [right] = env.assess([code_task()], ["```python\ndef double(x):\n    print('doubling')\n    return x + x\n```"])
    assert right.correct and right.observation == "doubling\ndoubling"  # no sentinel shown to the actor


def test_logic_names_are_judged_by_the_task_judge():
    assert judge(logic_task(), "Step 1: Ada.\n```python\nprint('ada')\n```").correct
    assert not judge(logic_task(), "Answer: Bo").correct


@pytest.mark.parametrize("task", [math_task(), math_task(label="Math_CoT"), code_task(), logic_task()])
@pytest.mark.parametrize("schema", ["cot", "modular"])
def test_ground_truth_action_is_correct_and_in_the_unified_format(task, schema):
    text = ground_truth_action(task, schema)
    assert text.startswith("Step 1:") and judge(task, text).correct


def test_modular_wrap_keeps_imports_at_the_top():
    code = modular_wrap("from math import sqrt\nx = sqrt(49)\nprint(int(x))\n")
    assert code.startswith("from math import sqrt\n") and "def solve():" in code
    assert run_subprocess([code])[0].stdout == "7\n"


def test_guide_asks_each_schema_for_its_format():
    assert "helper functions" in guide("Math_PoT", "modular") and "# Step k" in guide("Logic", "cot")
    assert "\\boxed" in guide("Math_CoT", "modular") and "python" not in guide("Math_CoT", "cot")


def test_mask_answer_numbers_hides_results_only():
    text = mask_answer_numbers("Step 1: 6 * 5 = 30, so 41 + 30 = 71.\nStep 2: The answer is 71.", "71")
    assert text == "Step 1: 6 * 5 = ?, so 41 + 30 = ?.\nStep 2: The answer is ?."


def critique(task, text):
    return rule_critique(task, text, judge(task, text))


def test_rule_critic_finds_the_first_wrong_arithmetic_claim():
    text = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 15\nAnswer: \\boxed{15}"
    assert first_wrong_arithmetic(text) == "Step 2, `7 * 2 = 15` is wrong: 7 * 2 = 14"
    assert "Step 2" in critique(math_task(), text)


def test_rule_critic_names_missing_answer_failing_test_and_error_line():
    assert "never gives a final answer" in critique(math_task(), "I think it is big.")
    assert "assert candidate(2) == 4" in critique(code_task(), "```python\ndef double(x):\n    return x\n```")
    assert "NameError" in critique(math_task(), "```python\nprint(y)\n```")
    assert "does not compile" in critique(math_task(), "```python\nprint(\n```")


def test_rule_critic_points_at_the_first_missing_reference_step_without_the_answer():
    task = math_task()
    assert first_missing_step(task, "Step 1: 3 apples.\nAnswer: 9") == "Step 2: 3 + 4 = ? apples. The answer is ?."
    for text in ("Step 1: 3 apples.\nAnswer: 9", WRONG, "nothing", "```python\nprint(1/0)\n```"):
        assert "7" not in critique(task, text).replace(repr("7"), "")
