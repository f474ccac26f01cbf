"""The `sft` stage: fine-tune the policy on the correct actions, then score it against the base model.

    eurus-kit sft --preset tiny                    # into runs/tiny/sft/
    eurus-kit sft --preset tiny sft.lr=1e-3 sft.epochs=3

Reads `trees/sft.jsonl` (or `sft.data`: the released UltraInteract_sft) and `tasks/heldout.jsonl`;
writes the policy `sft/model/` (a LoRA adapter on `model.policy`, or the full model with
`model.lora_r=0`), `sft/log.jsonl` (loss and learning rate per step), the held-out answers of the
base and the SFT policy `sft/heldout/{base,sft}.jsonl`, `sft/summary.json` and two figures.
"""

from __future__ import annotations

import json

from ..runs import RunDir

FIGURES = {"accuracy": "sft_accuracy.png", "loss": "sft_loss.png"}


def run(cfg, run: RunDir) -> dict:
    """Score the base policy, train, score the SFT policy, draw the figures."""
    from transformers import set_seed

    from ..hardware import pick_device
    from ..models import load_policy
    from ..policies import SECONDS_FILE, heldout_records, heldout_tasks, load_trained_policy, read_seconds
    from .data import general_mix, sft_rows, to_examples
    from .train import train_sft

    device, _ = pick_device(cfg)
    rows = sft_rows(run, cfg.sft)
    examples = to_examples(rows) + general_mix(cfg.sft, cfg.run.seed)
    tasks = heldout_tasks(run, cfg)
    model, tok = load_policy(cfg.model.policy, cfg.model, device=device)
    base = heldout_records(run, "sft", "base", model, tok, cfg, tasks)
    set_seed(cfg.run.seed)  # the fresh LoRA weights are random: same seed, same start, same run
    model, tok = load_policy(cfg.model.policy, cfg.model, device=device, lora=True, trainable=True)
    print(f"[sft] training on {len(examples)} examples ({len(rows)} distinct SFT rows) ...", flush=True)
    train = train_sft(model, tok, examples, cfg.sft, run.root / "sft", seed=cfg.run.seed, device=device,
                      max_length=cfg.model.max_seq_len)
    del model
    model, tok = load_trained_policy(run.root / "sft" / "model", cfg.model, device)  # as later stages load it
    tuned = heldout_records(run, "sft", "sft", model, tok, cfg, tasks)
    summary = {"rows": len(rows), "examples": len(examples), "train": train,
               "heldout": _accuracy({"base": base, "sft": tuned}),
               "seconds": {"heldout": read_seconds(run.root / "sft" / "heldout" / SECONDS_FILE)}}
    run.path("sft", "summary.json").write_text(json.dumps(summary, indent=1))
    figures = draw_figures(run)
    return {**summary, "outputs": [str(run.root / "sft" / "model"), str(run.root / "sft" / "summary.json"), *figures]}


def _accuracy(records_by_policy: dict) -> dict:
    from ..eval.heldout import compare_policies

    return compare_policies(records_by_policy)


def draw_figures(run: RunDir) -> list[str]:
    """Held-out accuracy of base vs SFT per family, and the training loss."""
    from ..jsonl import read_jsonl
    from ..plots import save_figure
    from ..plots.eval import plot_policy_comparison
    from ..plots.training import plot_training_curve

    summary = json.loads((run.root / "sft" / "summary.json").read_text())
    paths = [save_figure(plot_policy_comparison(summary["heldout"], title="Held-out pass@1: base vs SFT"),
                         run.path("figures", FIGURES["accuracy"]))]
    log = read_jsonl(run.root / "sft" / "log.jsonl")
    if log:
        paths.append(save_figure(plot_training_curve(log, "loss", title="SFT training loss"),
                                 run.path("figures", FIGURES["loss"])))
    return [str(p) for p in paths]


def report(run: RunDir) -> str:
    """Markdown: data, training, the base-vs-SFT table with intervals, the verdict, the figures."""
    from ..eval.heldout import comparison_markdown

    path = run.root / "sft" / "summary.json"
    if not path.is_file():
        return "No SFT summary in this run folder."
    s = json.loads(path.read_text())
    t = s["train"]
    parts = [f"Trained on {s['examples']} examples ({s['rows']} distinct SFT rows) for {t['steps']} steps "
             f"({t['seconds'] or 0:.0f} s, final mean loss {t['train_loss']:.3f}). Held-out pass@1, greedy, "
             "judged like the trees (percent, 95% Wilson interval):", "", comparison_markdown(s["heldout"]), "",
             lift_verdict(s["heldout"]), ""]
    for key, caption in (("accuracy", "Held-out pass@1 of the base and SFT policies"), ("loss", "SFT loss")):
        if (run.root / "figures" / FIGURES[key]).is_file():
            parts += [f"![{caption}](../figures/{FIGURES[key]})", ""]
    return "\n".join(parts)


def lift_verdict(comparison: dict) -> str:
    """One sentence: in which families SFT beat the base model beyond the base's 95% interval."""
    base, sft = comparison["policies"]["base"], comparison["policies"]["sft"]
    lifted = [g for g in comparison["groups"] if g in base and g in sft and sft[g]["low"] > base[g]["high"]]
    above = [g for g in comparison["groups"] if g in base and g in sft and sft[g]["accuracy"] > base[g]["high"]]
    if lifted:
        return (f"**SFT lifts held-out accuracy beyond the intervals in: {', '.join(lifted)}** "
                "(the SFT interval lies entirely above the base interval).")
    if above:
        return (f"SFT's accuracy is above the base model's 95% interval in: {', '.join(above)}, "
                "but the two intervals overlap.")
    return "**SFT does not lift held-out accuracy beyond the base model's 95% interval in any family at this scale.**"
