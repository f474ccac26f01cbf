"""Shared fixtures. The embedded tiny model is real: tests that need it share one loaded copy."""

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: one torch thread each (and in every subprocess and
    # notebook kernel they start), since OpenMP threads that spin-wait for a core the other worker
    # holds slow both down many times over.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"


@pytest.fixture(scope="session")
def tiny_cfg():
    from eurus_lib.config import load_config

    return load_config("tiny")


@pytest.fixture(scope="session")
def tiny_policy(tiny_cfg):
    """(model, tokenizer) of the embedded SmolLM2-135M-Instruct in eval mode, loaded once per session."""
    from eurus_lib.models import load_policy

    return load_policy(tiny_cfg.model.policy, tiny_cfg.model)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_worker():
    """Under `make test`'s two workers, torch in this process uses one thread too (even if imported early)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
    yield


# Seconds the slow modules took under `make test` (CI's --durations output, fresh clone at
# 1dc2249; notebooks lowered for notebook 02's batched scoring after it). They only balance the two workers' shares below; a stale figure makes the split less
# even, never changes what runs.
SLOW_MODULE_SECONDS = {"tests/test_browser.py": 330, "tests/test_notebooks.py": 210, "tests/test_prefs_stage.py": 200,
                       "tests/test_trees_model.py": 76, "tests/test_rm_stage.py": 60, "tests/test_sft_resume.py": 56,
                       "tests/test_eval_sampling.py": 38, "tests/test_pipeline_trees.py": 29,
                       "tests/test_models.py": 25, "tests/test_course_models.py": 19}


def pytest_collection_modifyitems(config, items):
    """Under `make test`'s two workers, each starts on half of the slow work and ends on quick tests.

    xdist's worksteal scheduler hands the first worker the first half of the collection and the
    second worker the rest; a worker that runs dry steals the last half of the other's queue.
    Collected alphabetically, most slow modules (stages, notebooks) fell in the second half, so a
    worker could end with a two-minute test to itself while the other had nothing left to steal.
    Here each half is its share of the slow modules (kept whole: a module's fixtures load once per
    worker; shared by SLOW_MODULE_SECONDS), then quick tests, so what is stolen at the end is short.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow: dict[str, list] = {}
    quick = []
    for item in items:
        if item.get_closest_marker("slow"):
            slow.setdefault(item.nodeid.split("::")[0], []).append(item)
        else:
            quick.append(item)
    halves: list[list] = [[], []]
    load = [0.0, 0.0]
    weight = {module: SLOW_MODULE_SECONDS.get(module, 5.0 * len(tests)) for module, tests in slow.items()}
    for module in sorted(slow, key=lambda m: (-weight[m], m)):  # heaviest first, each to the lighter half
        half = load.index(min(load))
        halves[half].extend(slow[module])
        load[half] += weight[module]
    room = len(items) // 2 - len(halves[0])  # the first worker's share is exactly the first len // 2 items
    if room < 0 or room > len(quick):
        return
    items[:] = halves[0] + quick[:room] + halves[1] + quick[room:]
