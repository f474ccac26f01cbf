"""The verdict table: one status per claim, computed from a run folder's summaries, never typed in."""

import json

from eurus_lib.eval.heldout import compare_policies
from eurus_lib.verdicts import NOT_AT_SCALE, NOT_MEASURED, SUPPORTED, verdict_markdown, verdict_rows


def _write(root, rel, data):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _records(flags_by_family):
    return [{"family": f, "correct": c} for f, flags in flags_by_family.items() for c in flags]


def _by_claim(root):
    return {r["paper_ref"]: r for r in verdict_rows(root)}


def test_an_empty_run_folder_measures_nothing(tmp_path):
    rows = verdict_rows(tmp_path)
    assert len(rows) == 8 and {r["status"] for r in rows} == {NOT_MEASURED}
    assert verdict_markdown(rows).count("**not measured**") == 8


def test_sft_is_supported_only_beyond_the_intervals(tmp_path):
    lifted = compare_policies({"base": _records({"math": [False] * 12}),
                               "sft": _records({"math": [True] * 10 + [False] * 2})})
    _write(tmp_path, "sft/summary.json", {"heldout": lifted})
    assert _by_claim(tmp_path)["§3, §4.1, Table 3"]["status"] == SUPPORTED
    close = compare_policies({"base": _records({"math": [False] * 12}), "sft": _records({"math": [True] + [False] * 11})})
    _write(tmp_path, "sft/summary.json", {"heldout": close})
    row = _by_claim(tmp_path)["§3, §4.1, Table 3"]
    assert row["status"] == NOT_AT_SCALE and "overlap" in row["reason"]


def _prefs_summary(chosen, status, matches):
    dyn = {a: {"rewards/chosen": {"mean": v, "se": 0.01, "steps": 3}} for a, v in chosen.items()}
    acc = {"accuracy": {"sft": 0.3, "dpo": 0.2, "kto": 0.4, "nca": 0.4}, "holds": {"kto > sft": True},
           "order_follows": True, "beyond_intervals": []}
    return {"dynamics": dyn, "verdict": {"rewards": {"status": status, "matches": matches,
                                                     "clear": {a: True for a in chosen}}, "accuracy": acc}}


def test_reward_dynamics_name_the_algorithm_with_the_wrong_sign(tmp_path):
    _write(tmp_path, "prefs/summary.json", _prefs_summary({"dpo": 0.2, "kto": 0.3, "nca": 0.1}, "partly shown",
                                                          {"dpo": False, "kto": True, "nca": True}))
    rows = _by_claim(tmp_path)
    assert rows["§6.1, Figure 5"]["status"] == NOT_AT_SCALE and "DPO" in rows["§6.1, Figure 5"]["reason"]
    assert rows["§4.1, Table 3"]["status"] == NOT_AT_SCALE and "within the intervals" in rows["§4.1, Table 3"]["reason"]


def test_best_of_n_needs_the_rm_pick_above_random_and_self_consistency(tmp_path):
    curve = {"N": [1, 8], "problems": 40, "oracle": [0.3, 0.9],
             "pass@1": {"random": [0.3, 0.3], "self-consistency": [0.3, 0.35], "RM reward:bt+dr": [0.3, 0.8]}}
    _write(tmp_path, "eval/best_of_n.json", curve)
    assert _by_claim(tmp_path)["§5.2, Figure 4, Table 9"]["status"] == SUPPORTED
    curve["pass@1"]["RM reward:bt+dr"] = [0.3, 0.3]
    _write(tmp_path, "eval/best_of_n.json", curve)
    assert _by_claim(tmp_path)["§5.2, Figure 4, Table 9"]["status"] == NOT_AT_SCALE
    # 2 of 12 against 0 of 12 (the tiny run of 2026-11-30): above both, but the intervals overlap
    curve = {"N": [1, 8], "problems": 12, "oracle": [0.1, 0.6],
             "pass@1": {"random": [0.1, 0.0], "self-consistency": [0.1, 0.0], "RM reward:bt+dr": [0.1, 2 / 12]}}
    _write(tmp_path, "eval/best_of_n.json", curve)
    row = _by_claim(tmp_path)["§5.2, Figure 4, Table 9"]
    assert row["status"] == NOT_AT_SCALE and "intervals overlap" in row["reason"]
