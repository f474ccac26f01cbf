"""Shared fixtures. The embedded tiny model is real: tests that need it share one loaded copy."""

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_cfg():
    from eurus_lib.config import load_config

    return load_config("tiny")


@pytest.fixture(scope="session")
def tiny_policy(tiny_cfg):
    """(model, tokenizer) of the embedded SmolLM2-135M-Instruct in eval mode, loaded once per session."""
    from eurus_lib.models import load_policy

    return load_policy(tiny_cfg.model.policy, tiny_cfg.model)
