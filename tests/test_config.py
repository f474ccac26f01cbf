"""Presets, overrides and the one-sentence errors for bad input."""

import pytest

from eurus_lib.config import KitConfig, config_from_dict, list_presets, load_config, set_value
from eurus_lib.errors import ConfigError


def test_three_presets_ship():
    assert {"tiny", "gpu-7b-qlora", "multi-gpu-full"} <= set(list_presets())


def test_tiny_preset_runs_the_embedded_model_on_cpu():
    cfg = load_config("tiny")
    assert cfg.model.policy == "embedded:smollm2-135m"
    assert cfg.run.device == "cpu" and not cfg.run.requires_gpu


def test_gpu_preset_carries_the_papers_hyperparameters():
    cfg = load_config("gpu-7b-qlora")
    assert cfg.model.policy == "mistralai/Mistral-7B-v0.1" and cfg.model.load_in_4bit
    assert (cfg.sft.lr, cfg.sft.warmup_ratio, cfg.sft.scheduler) == (2e-5, 0.1, "cosine")
    assert (cfg.prefs.beta, cfg.prefs.lr, cfg.prefs.kto_desirable_weight) == (0.1, 5e-7, 1.33)
    assert (cfg.rm.lr, cfg.rm.objectives) == (1e-5, ["bt+dr", "bt", "dr"])


def test_multi_gpu_preset_extends_the_gpu_preset_with_full_training():
    cfg = load_config("multi-gpu-full")
    assert cfg.model.lora_r == 0 and not cfg.model.load_in_4bit
    assert cfg.model.nf4_kernels == "off"
    assert cfg.sft.lr == 2e-5  # inherited from gpu-7b-qlora


def test_overrides_are_parsed_by_the_fields_type():
    cfg = load_config("tiny", ["sft.lr=3e-4", "trees.max_turns=3", "model.load_in_4bit=true",
                               "model.nf4_kernels=off", "tasks.families=math,logic"])
    assert cfg.sft.lr == 3e-4 and cfg.trees.max_turns == 3 and cfg.model.load_in_4bit is True
    assert cfg.model.nf4_kernels == "off"  # YAML would read `off` as False; text fields keep it verbatim
    assert cfg.tasks.families == ["math", "logic"]


@pytest.mark.parametrize("override, message", [
    ("sft.lrr=1", "Unknown key 'sft.lrr'. Keys in 'sft':"),
    ("sftt.lr=1", "Unknown config section 'sftt'"),
    ("lr=1", "needs a section"),
    ("sft.lr=abc", "sft.lr must be a number"),
    ("trees.max_turns=0", "below its minimum 1"),
    ("trees.max_turns=2.5", "must be a whole number"),
    ("model.load_in_4bit=maybe", "must be true or false"),
    ("model.dtype=int3", "choose one of: auto, float32"),
    ("sft.lr", "not of the form section.key=value"),
])
def test_bad_overrides_get_one_clear_sentence(override, message):
    with pytest.raises(ConfigError, match=None) as err:
        load_config("tiny", [override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_preset_lists_the_allowed_ones():
    with pytest.raises(ConfigError) as err:
        load_config("huge")
    assert "Unknown preset 'huge'" in str(err.value) and "tiny" in str(err.value)


def test_config_round_trips_through_a_dict():
    cfg = load_config("gpu-7b-qlora", ["eval.best_of_n=[1,4,16]"])
    assert config_from_dict(cfg.to_dict()) == cfg


def test_set_value_checks_like_the_cli():
    cfg = KitConfig()
    set_value(cfg, "rm.objectives", "dr,bt", from_text=True)
    assert cfg.rm.objectives == ["dr", "bt"]
    with pytest.raises(ConfigError):
        set_value(cfg, "rm.objectives", ["bt", "hinge"])
