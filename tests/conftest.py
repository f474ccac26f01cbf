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
