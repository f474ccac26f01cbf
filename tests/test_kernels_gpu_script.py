"""The prepared GPU run (benchmarks/gpu_kernels_second_pass.py) dry-runs on the CPU: it parses its
arguments, skips every GPU section with a reason, keeps its deadline, records errors, and writes
its JSON after each section."""

import importlib.util
import json
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gpu_kernels_second_pass.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("gpu_kernels_second_pass", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_cuda_every_gpu_section_is_skipped_and_the_json_written(script, tmp_path, monkeypatch):
    monkeypatch.setattr(script.torch.cuda, "is_available", lambda: False)
    assert script.main(["--deadline-s", "30", "--out", str(tmp_path), "--skip", "sweep"]) == 0
    res = json.loads((tmp_path / "gpu_kernels_second_pass.json").read_text())
    sections = res["sections"]
    assert sections["sweep"]["status"] == "skipped: --skip"
    for name in ("versions", "roofline", "correctness", "dequant", "linears", "qlora", "decode"):
        assert sections[name]["status"] == "skipped: no CUDA device", name
    assert sections["summary"]["status"] == "ok" and res["summary"]["dequant_bit_exact"] is None
    assert res["args"]["deadline_s"] == 30.0


def test_sections_keep_the_deadline_and_record_errors(script, tmp_path):
    path = tmp_path / "out.json"
    r = script.Runner(str(path), deadline_s=1.5, cuda=True)
    r.section("fast", lambda: {"x": 1}, 0.1)
    assert json.loads(path.read_text())["fast"] == {"x": 1}  # written after each section
    r.section("too_big", lambda: {"x": 2}, 60)
    r.section("broken", lambda: 1 / 0, 0.1)
    t = time.time()
    r.section("slow", lambda: time.sleep(10), 0.1)
    assert time.time() - t < 5  # the alarm stopped it at the deadline
    res = json.loads(path.read_text())
    assert res["sections"]["too_big"]["status"].startswith("skipped:") and "too_big" not in res
    assert res["sections"]["broken"]["status"].startswith("error: ZeroDivisionError")
    assert "ZeroDivisionError" in res["broken"]["traceback"]
    assert res["sections"]["slow"]["status"] == "stopped: deadline"


def test_summary_turns_measurements_into_the_issue_ratios(script):
    res = {"qlora": {"hf_bnb": {"step_ms": 700.0}, "hf_bnb_liger": {"peak_GiB_steady": 7.0},
                     "hf_bnb_liger_ours": {"step_ms": 350.0, "peak_GiB_steady": 6.5}},
           "dequant": {"ours_over_bnb": 0.9, "bit_exact": True}}
    s = script.summary(res)
    assert s["hf_bnb_liger_ours_speedup_vs_hf_bnb (>=1.8, aim 2)"] == 2.0
    assert s["hf_bnb_liger_ours_peak_minus_liger_peak_GiB (<=0)"] == -0.5
    assert s["dequant_bit_exact"] is True
