"""The `rm` stage: train Eurus-RM (L_BT + L_DR) and its ablations from the SFT model, score held-out pairs.

    eurus-kit rm --preset tiny                          # into runs/tiny/rm/
    eurus-kit rm --preset tiny rm.objectives=bt+dr      # Eurus-RM alone, no ablations
    eurus-kit rm --preset gpu-7b-qlora rm.ultrafeedback_pairs=20000 rm.ultrasafety_pairs=300

Reads `trees/pairs.jsonl` and `trees/rm_pairs.jsonl` (or `rm.data`: the released UltraInteract_pair),
`sft/model/`, `tasks/heldout.jsonl` and the SFT stage's held-out answers `sft/heldout/{sft,base}.jsonl`.
Every objective in `rm.objectives` trains from the same start (SFT body + a new head, same seed) on
the same pairs in the same order for the same steps. Writes, per objective, `rm/<objective>/model/`
(load it with `eurus_lib.rm.load_trained_reward_model`), `log.jsonl`, `train.json` and
`heldout_scores.jsonl`; then `rm/heldout_pairs.jsonl`, the shared untrained start's scores
`rm/untrained_scores.jsonl` (a baseline), `rm/summary.json` and `figures/rm_*.png`.
"""

from __future__ import annotations

import gc
import json
import time
from collections import Counter

from ..jsonl import read_jsonl, write_jsonl
from ..runs import RunDir

FIGURES = {"distributions": "rm_reward_distributions.png", "training": "rm_training.png"}


def run(cfg, run: RunDir) -> dict:
    """Tokenize the pairs, build the held-out pairs, then train and score each objective in turn."""
    from ..hardware import pick_device
    from ..models import load_tokenizer
    from .data import SKIP_REASONS, tokenize_pairs, ultrainteract_examples
    from .general import general_examples

    device, _ = pick_device(cfg)
    tok = load_tokenizer(str(run.root / "sft" / "model"), cfg.model.chat_template)
    examples = ultrainteract_examples(run, cfg.rm, cfg.run.seed) + general_examples(cfg.rm, cfg.run.seed)
    rows, skipped = tokenize_pairs(examples, tok, max_length(cfg))
    data = {"data": cfg.rm.data, "examples": len(examples), "rows": len(rows),
            "sources": dict(Counter(r["source"] for r in rows)), "skipped": {k: skipped[k] for k in SKIP_REASONS}}
    print(f"[rm] {len(rows)} training pairs {data['sources']}; skipped {dict(skipped) or 'none'}", flush=True)
    pairs, counts = build_heldout(run, cfg, device)
    trunk = shared_trunk(cfg)
    untrained = score_untrained(pairs, cfg, run, device, trunk)
    results = {o: train_and_score(o, rows, pairs, cfg, run, device, trunk) for o in cfg.rm.objectives}
    summary = make_summary(data, counts, pairs, results)
    summary["untrained"] = untrained
    summary["trunk"] = {"k": trunk.k, "tokens": trunk.trunk_tokens} if trunk else None
    run.path("rm", "summary.json").write_text(json.dumps(summary, indent=1))
    figures = draw_figures(run)
    models = [str(run.root / "rm" / o / "model") for o in cfg.rm.objectives]
    return {**summary, "outputs": [*models, str(run.root / "rm" / "summary.json"), *figures]}


def max_length(cfg) -> int:
    return min(cfg.rm.max_length, cfg.model.max_seq_len)


def shared_trunk(cfg):
    """One trunk cache for all objectives when they can share it: merged SFT body, LoRA on the last k layers."""
    from ..trunk import TrunkCache
    from .model import rm_model_settings, start_mode

    k = rm_model_settings(cfg).lora_layers
    return TrunkCache(k) if start_mode(cfg.model) == "merge" and k > 0 else None


def build_heldout(run: RunDir, cfg, device: str) -> tuple[list[dict], dict]:
    """Held-out pairs from the SFT stage's greedy answers (answering with the SFT policy only if they are missing)."""
    from ..tasks.stage import load_heldout
    from .evaluate import heldout_pairs

    tasks = load_heldout(run)
    records = {name: read_jsonl(run.root / "sft" / "heldout" / f"{name}.jsonl") for name in ("sft", "base")}
    if not any(records.values()):
        records["sft"] = _answer_with_sft(run, cfg, device, tasks[: cfg.eval.max_problems])
    pairs, counts = heldout_pairs(tasks, records, cot_share=cfg.trees.cot_share, seed=cfg.run.seed)
    write_jsonl(run.path("rm", "heldout_pairs.jsonl"), pairs)
    return pairs, counts


def _answer_with_sft(run: RunDir, cfg, device: str, tasks) -> list[dict]:
    from ..policies import heldout_records, load_trained_policy

    print("[rm] sft/heldout/ has no held-out answers: answering with the SFT policy into rm/heldout/", flush=True)
    model, tok = load_trained_policy(run.root / "sft" / "model", cfg.model, device)
    return heldout_records(run, "rm", "sft", model, tok, cfg, tasks)


def train_and_score(objective: str, rows: list[dict], pairs: list[dict], cfg, run: RunDir, device: str,
                    trunk=None) -> dict:
    """Train one objective (unless finished earlier), then score the held-out pairs with the saved model."""
    from .evaluate import summarize
    from .model import load_trained_reward_model

    train = train_one(objective, rows, cfg, run, device, trunk)
    scored, timing = score_one(lambda: load_trained_reward_model(run, objective, cfg, device), pairs,
                               run.root / "rm" / objective / "heldout_scores.jsonl", cfg, objective, trunk)
    control = summarize(scored, kind="policy").get("all", {})
    return {"train": train, "eval": summarize(scored), "control": control, "scoring": timing}


def score_untrained(pairs: list[dict], cfg, run: RunDir, device: str, trunk=None) -> dict:
    """The start every objective trains from (SFT body + new head, same seed), scored as a baseline."""
    from .evaluate import summarize
    from .model import rm_model_settings, start_reward_model

    def load():
        model, tok, _ = start_reward_model(run.root / "sft" / "model", rm_model_settings(cfg), device,
                                           seed=cfg.run.seed)
        return model.eval(), tok

    scored, timing = score_one(load, pairs, run.root / "rm" / "untrained_scores.jsonl", cfg, "untrained", trunk)
    return {"eval": summarize(scored), "scoring": timing}


def train_one(objective: str, rows: list[dict], cfg, run: RunDir, device: str, trunk=None) -> dict:
    from ..trunk import shares_trunk
    from .model import rm_model_settings, start_reward_model
    from .train import DONE_FILE, is_trained, train_objective

    out_dir = run.root / "rm" / objective
    if is_trained(out_dir):
        print(f"[rm] {objective}: already trained in {out_dir}", flush=True)
        return json.loads((out_dir / DONE_FILE).read_text())
    sft_dir = run.root / "sft" / "model"
    model, tok, mode = start_reward_model(sft_dir, rm_model_settings(cfg), device, seed=cfg.run.seed)
    print(f"[rm] {objective}: training on {len(rows)} pairs from the SFT model ({mode}) ...", flush=True)
    trunk = trunk if trunk is not None and shares_trunk(model, trunk.k) else None
    summary = train_objective(objective, model, tok, mode, rows, cfg.rm, out_dir, sft_dir=sft_dir,
                              seed=cfg.run.seed, device=device, max_length=max_length(cfg), trunk=trunk)
    del model
    gc.collect()
    return summary


def score_one(load, pairs: list[dict], path, cfg, name: str, trunk=None) -> tuple[list[dict], dict]:
    """Rewards of every held-out pair under the model `load()` gives (kept in `path`); wall and CPU seconds.

    The trained models are loaded as the eval stage loads them (`load_trained_reward_model`).
    """
    from ..trunk import shares_trunk
    from .evaluate import score_pairs

    cached = read_jsonl(path)
    if [r["id"] for r in cached] == [p["id"] for p in pairs]:
        return cached, {}
    wall, cpu = time.perf_counter(), time.process_time()
    model, tok = load()
    trunk = trunk if trunk is not None and shares_trunk(model, trunk.k) else None
    scored = score_pairs(model, tok, pairs, batch_size=cfg.rm.score_batch_size, progress=f"{name}: held-out",
                         trunk=trunk)
    write_jsonl(path, scored)
    del model
    gc.collect()
    return scored, {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}


def make_summary(data: dict, counts: dict, pairs: list[dict], results: dict) -> dict:
    from .evaluate import length_scores, summarize

    truth = [p for p in pairs if p["kind"] == "ground_truth"]
    families = sorted({p["family"] for p in truth})
    heldout = {**counts, "pairs": len(truth),
               "rejected_from": "the SFT policy's, or the base policy's where SFT was right"}
    control = {o: r["control"] for o, r in results.items() if r["control"]}
    return {"data": data, "heldout": heldout, "groups": [*families, "all"], "objectives": results, "control": control,
            "length_baseline": summarize(length_scores(pairs))}


def draw_figures(run: RunDir) -> list[str]:
    """The held-out reward distributions per objective, and the training dynamics."""
    from ..plots import save_figure
    from ..plots.rm import plot_reward_distributions, plot_rm_training

    summary = json.loads((run.root / "rm" / "summary.json").read_text())
    objectives = list(summary["objectives"])
    scored = {o: [r for r in read_jsonl(run.root / "rm" / o / "heldout_scores.jsonl") if r["kind"] == "ground_truth"]
              for o in objectives}
    paths = [save_figure(plot_reward_distributions(scored), run.path("figures", FIGURES["distributions"]))]
    logs = {o: read_jsonl(run.root / "rm" / o / "log.jsonl") for o in objectives}
    if any(logs.values()):
        paths.append(save_figure(plot_rm_training(logs), run.path("figures", FIGURES["training"])))
    return [str(p) for p in paths]


def report(run: RunDir) -> str:
    """Markdown: data, training, held-out accuracy and signs, the Table 4 analog, verdicts, the figures."""
    from .report import render

    path = run.root / "rm" / "summary.json"
    if not path.is_file():
        return "No reward-model summary in this run folder."
    parts = [render(json.loads(path.read_text())), ""]
    captions = {"distributions": "Held-out rewards of correct (chosen) and wrong (rejected) answers per objective",
                "training": "Batch mean chosen and rejected rewards and margin during training"}
    for key, caption in captions.items():
        if (run.root / "figures" / FIGURES[key]).is_file():
            parts += [f"![{caption}](../figures/{FIGURES[key]})", ""]
    return "\n".join(parts)
