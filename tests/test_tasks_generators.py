"""The three task families: solutions that really solve, tests that really test, knobs that work."""

from __future__ import annotations

import ast
import random
import re

import pytest
from tasks_support import run_code_tasks, run_programs, sample_tasks

from eurus_lib.tasks import answers_match, code_task, logic_task, math_task
from eurus_lib.tasks.logic_tasks import MAKERS, Puzzle, _settle_clues, solve
from eurus_lib.tasks.words import names

GENERATORS = {"math": math_task, "code": code_task, "logic": logic_task}


@pytest.fixture(scope="module")
def math_tasks():
    return sample_tasks(math_task, per_difficulty=14)


@pytest.fixture(scope="module")
def logic_tasks():
    return sample_tasks(logic_task, difficulties=(1, 2, 3, 4), per_difficulty=12) + sample_tasks(
        logic_task, difficulties=(5,), per_difficulty=4)


@pytest.fixture(scope="module")
def code_tasks():
    return sample_tasks(code_task, difficulties=(1, 2, 3, 4, 5), per_difficulty=10)


@pytest.mark.parametrize("family", ["math", "code", "logic"])
def test_same_seed_gives_the_same_task_and_another_seed_a_different_one(family):
    gen = GENERATORS[family]
    first, again = gen(random.Random(7), 3), gen(random.Random(7), 3)
    other = gen(random.Random(8), 3)
    assert first == again and first.to_dict() == again.to_dict()
    assert other.id != first.id


def test_every_math_solution_program_prints_the_answer(math_tasks):
    results = run_programs([t.solution for t in math_tasks])
    for task, result in zip(math_tasks, results):
        assert result.returncode == 0, result.stderr
        assert answers_match(task, result.stdout), (task.prompt, task.answer, result.stdout)
        assert float(result.stdout.strip()) == float(task.answer)


def test_every_logic_solution_program_prints_the_answer(logic_tasks):
    results = run_programs([t.solution for t in logic_tasks])
    for task, result in zip(logic_tasks, results):
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == task.answer
        assert answers_match(task, result.stdout)


def test_every_code_reference_solution_passes_its_tests_and_a_corrupted_one_fails(code_tasks):
    good = run_code_tasks(code_tasks)
    bad = run_code_tasks(code_tasks, [_corrupt(t) for t in code_tasks])
    for task, ok, broken in zip(code_tasks, good, bad):
        assert ok.passed, (task.prompt, ok.stderr)
        assert not broken.passed and "AssertionError" in broken.stderr, task.prompt


def _corrupt(task) -> str:
    """The reference solution with its result changed by a little: any test must catch it."""
    return (f"{task.solution}\n\n_reference = {task.entry_point}\n\n"
            f"def {task.entry_point}(*args):\n    out = _reference(*args)\n"
            "    if isinstance(out, bool) or out is None:\n        return 'wrong'\n"
            "    return out + 1 if isinstance(out, int) else [out]\n")


def test_code_tests_tell_the_reference_from_a_constant_function(code_tasks):
    for task in code_tasks:
        expected = re.findall(r"== (.+)$", task.tests, flags=re.MULTILINE)
        assert len(expected) == 8 and len(set(expected)) >= 3, task.tests
        assert task.tests.startswith("def check(candidate):")


def test_code_prompt_statement_names_the_function_and_shows_a_true_example(code_tasks):
    for task in code_tasks[:20]:
        assert f"`{task.entry_point}(" in task.prompt
        call, out = re.search(r"Example: `(.+?)` returns `(.+?)`\.$", task.prompt).groups()
        namespace: dict = {}
        exec(task.solution, namespace)
        assert eval(call, namespace) == ast.literal_eval(out)


def test_math_tasks_mix_cot_and_pot_labels(math_tasks):
    labels = {t.task for t in math_tasks}
    assert labels == {"Math_CoT", "Math_PoT"}
    share = sum(t.task == "Math_PoT" for t in math_tasks) / len(math_tasks)
    assert 0.25 < share < 0.75


@pytest.mark.parametrize("family", ["math", "code", "logic"])
def test_higher_difficulty_means_more_steps(family):
    gen = GENERATORS[family]
    mean_steps = {}
    for d in (1, 3, 5):
        tasks = [gen(random.Random(f"steps{i}"), d) for i in range(8 if family == "logic" and d == 5 else 20)]
        mean_steps[d] = sum(t.rationale.count("\nStep ") + 1 for t in tasks) / len(tasks)
        assert all(t.difficulty == d for t in tasks)
    assert mean_steps[1] < mean_steps[3] < mean_steps[5], mean_steps


def test_difficulty_one_math_is_one_operation_and_five_is_eight():
    assert math_task(random.Random(1), 1).meta["steps"] == 1
    assert math_task(random.Random(1), 5).meta["steps"] == 8
    one = math_task(random.Random(2), 1)
    assert one.rationale.count("Step ") == 3  # start, the operation, the answer


def test_math_rationale_walks_steps_and_ends_with_the_answer(math_tasks):
    for task in math_tasks:
        lines = task.rationale.splitlines()
        assert [ln.split(":")[0] for ln in lines] == [f"Step {k}" for k in range(1, len(lines) + 1)]
        assert lines[-1].endswith(f"The answer is {task.answer}.")


def test_logic_puzzles_have_exactly_one_solution_and_need_every_clue():
    for seed in range(12):
        rng = random.Random(seed)
        kind = ["ordering", "knights", "ownership"][seed % 3]
        puzzle = MAKERS[kind](rng, names(rng, 4), 4, "train")
        assert _settle_clues(rng, puzzle)
        assert len(solve(puzzle)) == 1
        for k in range(len(puzzle.clues)):
            fewer = puzzle.clues[:k] + puzzle.clues[k + 1:]
            assert len(solve(puzzle, fewer)) > 1, "a clue that uniqueness does not need was kept"


def test_the_unique_solution_is_the_hidden_truth():
    for seed in range(9):
        rng = random.Random(seed)
        kind = ["ordering", "knights", "ownership"][seed % 3]
        puzzle: Puzzle = MAKERS[kind](rng, names(rng, 3), 2, "train")
        _settle_clues(rng, puzzle)
        assert solve(puzzle)[0] == puzzle.truth


def test_logic_answer_kinds_fit_the_puzzle(logic_tasks):
    kinds = {t.meta["puzzle"]: t.meta["answer_kind"] for t in logic_tasks}
    assert kinds == {"ordering": "sequence", "knights": "set", "ownership": "name"}
    for task in logic_tasks:
        assert task.task == "Logic" and task.family == "logic"
        assert all(p in task.prompt for p in task.meta["people"])


def test_task_ids_are_sha256_of_family_and_prompt(math_tasks):
    import hashlib

    task = math_tasks[0]
    assert task.id == hashlib.sha256(f"math\n{task.prompt}".encode()).hexdigest()
    assert len({t.id for t in math_tasks}) == len(math_tasks)
