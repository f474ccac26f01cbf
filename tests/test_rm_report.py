"""The reward-model report section, on summaries with made-up numbers: tables, Table 4 analog, honest verdicts."""

from eurus_lib.eval.intervals import wilson_interval
from eurus_lib.rm.report import render


def _cell(correct, n, both, chosen_pos=0.5, rejected_neg=0.5):
    low, high = wilson_interval(correct, n)
    return {"n": n, "correct": correct, "accuracy": correct / n, "low": low, "high": high,
            "chosen_positive": chosen_pos, "rejected_negative": rejected_neg, "both_signs": both,
            "mean_chosen": 0.4, "mean_rejected": -0.3}


def _summary(correct_by_objective, both_by_objective, n=36, general=0, control=None):
    objectives = {}
    for name, correct in correct_by_objective.items():
        cell = _cell(correct, n, both_by_objective[name])
        objectives[name] = {"train": {"mode": "merge", "steps": 12, "train_loss": 0.61, "seconds": 20.0,
                                      "cpu_seconds": 38.0},
                            "eval": {"math": _cell(correct // 3, n // 3, 0.5), "all": cell},
                            "control": {}, "scoring": {"seconds": 9.0, "cpu_seconds": 17.0}}
    return {"data": {"data": "trees", "rows": 300, "examples": 310,
                     "sources": {"ultrainteract": 150, "ultrainteract_augmented": 150, "ultrafeedback": general},
                     "skipped": {"empty": 0, "identical": 2, "duplicate": 8, "too_long": 0}},
            "heldout": {"problems": 36, "pairs": n, "no_wrong_answer": 0, "policy_pairs": 0,
                        "rejected_from": "the SFT policy's"},
            "groups": ["math", "all"], "objectives": objectives, "control": control or {},
            "length_baseline": {"math": _cell(12, 12, 0.0), "all": _cell(33, 36, 0.0)},
            "untrained": {"eval": {"math": _cell(6, 12, 0.0), "all": _cell(18, 36, 0.0)}}}


def test_report_puts_the_papers_table4_numbers_beside_ours_and_says_what_is_not_measured():
    md = render(_summary({"bt+dr": 30, "bt": 29, "dr": 28}, {"bt+dr": 0.8, "bt": 0.1, "dr": 0.7}))
    assert "| L_BT + L_DR (Eurus-RM) | Eurus-RM-7B | 87.0 | 83.3 [" in md
    assert "| w/o L_DR | 77.5 |" in md and "| w/o L_BT | 84.2 |" in md
    assert "| 65.3 | not measured |" in md and "Chat-Hard" in md and "Reasoning" in md
    assert "**No general preference data**" in md and "340K UltraFeedback" in md
    assert "2 identical, 8 duplicate" in md
    assert "| 12 | 0.610 | 20 (38) | 9 (17) |" in md
    assert "shared by every objective" not in md
    assert "Every reward model ranks the held-out pairs above chance" in md
    assert "**Not distinguishable at this scale:**" in md  # 83.3 vs 80.6 with n=36
    assert "as the paper argues" in md and "bt+dr 80%" in md
    assert "Style control not available" in md
    assert "| longer answer wins (a shortcut, no model) | 100.0 [76-100] | 91.7 [78-97] |" in md
    assert "as well as or better than every reward model" in md
    assert "| untrained start (SFT body + new head) | 50.0 [" in md
    assert "ranks 50.0 [34-66] (n=36); training moved it by bt+dr +33.3, bt +30.6, dr +27.8 points" in md


def test_report_says_plainly_when_every_reward_model_is_at_chance():
    md = render(_summary({"bt+dr": 19, "bt": 17, "dr": 18}, {"bt+dr": 0.1, "bt": 0.3, "dr": 0.2}, general=5))
    assert "**Every reward model is indistinguishable from chance here**" in md
    assert "overlap" in md
    assert "**not** as the paper argues" in md
    assert "**No general preference data**" not in md


def test_report_calls_the_ld_ablation_supported_only_beyond_both_intervals():
    md = render(_summary({"bt+dr": 35, "bt": 20}, {"bt+dr": 0.9, "bt": 0.2}, n=36))
    assert "**Supported:** adding L_DR raises held-out pairwise accuracy by +41.7 points" in md
    md = render(_summary({"bt+dr": 30}, {"bt+dr": 0.9}))
    assert "**not measured**" in md  # no bt run: neither the ablation nor the sign comparison


def test_report_says_when_the_frozen_trunk_was_shared():
    s = _summary({"bt+dr": 30, "bt": 29}, {"bt+dr": 0.8, "bt": 0.1})
    s["trunk"] = {"k": 2, "tokens": 51234}
    assert "last 2 decoder layers" in render(s) and "(51234 tokens) and shared by every objective" in render(s)


def test_report_shows_the_style_control_when_there_are_policy_pairs():
    md = render(_summary({"bt+dr": 30, "bt": 29}, {"bt+dr": 0.8, "bt": 0.1}, control={"bt+dr": _cell(2, 3, 0.3)}))
    assert "Style control (one policy's correct answer against the other's wrong one" in md and "n=3" in md
