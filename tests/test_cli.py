"""The eurus-kit command: clear errors, config printing, stage dispatch into run folders."""

import subprocess
import sys

import pytest

from eurus_lib.cli import main


def test_config_prints_the_resolved_preset(capsys):
    assert main(["config", "--preset", "gpu-7b-qlora", "sft.lr=1e-5"]) == 0
    out = capsys.readouterr().out
    assert "policy: mistralai/Mistral-7B-v0.1" in out and "lr: 1.0e-05" in out


@pytest.mark.parametrize("argv, message", [
    (["config", "sft.lrr=1"], "Unknown key 'sft.lrr'"),
    (["config", "--preset", "nope"], "Unknown preset 'nope'"),
    (["reproduce", "--preset", "gpu-7b-qlora", "--run-dir", "unused"], "needs a CUDA GPU"),
])
def test_bad_input_exits_2_with_one_sentence(argv, message, capsys):
    import torch

    if "gpu-7b-qlora" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("eurus-kit: error: ") and message in err and "Traceback" not in err


def test_report_of_a_missing_run_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--run-dir", str(tmp_path / "none")]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_reproduce_without_notebooks_writes_manifest_and_report(tmp_path, monkeypatch):
    monkeypatch.setattr("eurus_lib.pipeline.STAGES", [])  # the frame alone: stages are tested in their own files
    assert main(["reproduce", "--run-dir", str(tmp_path), "--no-notebooks"]) == 0
    assert (tmp_path / "manifest.json").is_file() and (tmp_path / "report" / "report.html").is_file()


def test_console_script_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "eurus_lib.cli", "--help"], capture_output=True, text=True).stdout
    for name in ("reproduce", "trees", "sft", "prefs", "rm", "eval", "report"):
        assert name in out


def test_reproduce_copies_run_figures_into_the_figures_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("eurus_lib.pipeline.STAGES", [])
    run_dir = tmp_path / "run"
    (run_dir / "figures").mkdir(parents=True)
    (run_dir / "figures" / "tree.png").write_bytes(b"\x89PNG fake")
    assert main(["reproduce", "--run-dir", str(run_dir), "--no-notebooks", "--figures-dir", str(tmp_path / "pub")]) == 0
    assert (tmp_path / "pub" / "tree.png").read_bytes() == b"\x89PNG fake"
    assert "preset tiny" in (tmp_path / "pub" / "SOURCE.md").read_text()
