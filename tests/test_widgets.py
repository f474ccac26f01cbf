"""Notebook widgets write through the same checks as CLI overrides."""

from eurus_lib.config import load_config
from eurus_lib.widgets import config_editor


def _widget(editor, key):
    return next(c for c in editor.children if getattr(c, "description", None) == key)


def test_changing_a_widget_updates_the_config():
    cfg = load_config("tiny")
    editor = config_editor(cfg, "sft", keys=["lr", "batch_size", "scheduler"])
    _widget(editor, "lr").value = "3e-4"
    _widget(editor, "scheduler").value = "linear"
    _widget(editor, "batch_size").value = 16
    assert (cfg.sft.lr, cfg.sft.scheduler, cfg.sft.batch_size) == (3e-4, "linear", 16)


def test_a_rejected_value_shows_the_error_and_keeps_the_config():
    cfg = load_config("tiny")
    editor = config_editor(cfg, "sft", keys=["lr"])
    _widget(editor, "lr").value = "fast"
    assert cfg.sft.lr == load_config("tiny").sft.lr
    assert "sft.lr must be a number" in editor.children[-1].value


def test_list_fields_take_comma_separated_text():
    cfg = load_config("tiny")
    editor = config_editor(cfg, "eval", keys=["best_of_n"])
    _widget(editor, "best_of_n").value = "1, 4, 16"
    assert cfg.eval.best_of_n == [1, 4, 16]


def test_every_section_builds_an_editor():
    cfg = load_config("gpu-7b-qlora")
    for section in ("run", "model", "tasks", "trees", "sft", "prefs", "rm", "eval"):
        assert len(config_editor(cfg, section).children) >= 3


def test_a_list_with_choices_is_picked_from_them():
    cfg = load_config("tiny")
    editor = config_editor(cfg, "prefs", keys=["algorithms"])
    _widget(editor, "algorithms").value = ("dpo", "nca")
    assert cfg.prefs.algorithms == ["dpo", "nca"]
