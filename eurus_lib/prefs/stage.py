"""The `prefs` stage: DPO, KTO and NCA from the SFT policy, their reward dynamics and held-out accuracy.

    eurus-kit prefs --preset tiny                           # into runs/tiny/prefs/
    eurus-kit prefs --preset tiny prefs.beta=0.3 prefs.algorithms=dpo,kto

Paper sections 3 and 6.1: each algorithm starts from the SFT policy, which is also its reference,
with β = prefs.beta, on the trajectory pairs of the trees stage (the multi-turn history is the
prompt). The stage reads `trees/pairs.jsonl`, `sft/model/`, `sft/heldout/sft.jsonl` and
`tasks/heldout.jsonl`, and writes

    prefs/reference_logps.jsonl     reference log-probs, scored once, shared by all runs (prefs.reference)
    prefs/<algo>/model/             the trained adapter (on top of sft/model; models.load_policy stacks them)
    prefs/<algo>/log.jsonl          every step: rewards/{chosen,rejected,margins,accuracies}, loss, ...
    prefs/heldout/<algo>.jsonl      greedy held-out answers, judged like the trees
    prefs/summary.json              pairs used and skipped, training, accuracy, reward dynamics, verdict
    figures/prefs_reward_dynamics.png, figures/prefs_heldout.png   (figure 5 and Table 3 analogs)

Killed, it resumes: the reference file is read back, finished algorithms are not retrained, and a
half-trained one continues from its last checkpoint (prefs.train). What moves the dynamics (β,
learning rate, steps, pairs, layers) is measured by benchmarks/sweep_prefs.py on a finished run.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

from ..runs import RunDir

FIGURES = {"dynamics": "prefs_reward_dynamics.png", "heldout": "prefs_heldout.png"}


def run(cfg, run: RunDir) -> dict:
    """Prepare the pairs, score the reference once, train each algorithm, score held-out, draw."""
    from ..hardware import pick_device
    from ..policies import heldout_tasks
    from .policy import start_mode

    device, _ = pick_device(cfg)
    pairs, skipped, batches = prepare_pairs(run, cfg)
    tasks = heldout_tasks(run, cfg)
    trunk = shared_trunk(cfg, pairs, batches)
    ref, records = reference_and_sft(run, cfg, pairs, batches, tasks, device, trunk)
    trained = {}
    for algo in cfg.prefs.algorithms:
        trained[algo], records[algo] = train_and_score(algo, run, cfg, pairs, batches, ref, tasks, device, trunk)
    summary = summarize(run, cfg, pairs, skipped, batches, trained, records, start_mode(cfg.model))
    summary["trunk"] = {"k": trunk.k, "tokens": trunk.trunk_tokens, "hits": trunk.hits} if trunk else None
    summary["seconds"] = _seconds(run)
    run.path("prefs", "summary.json").write_text(json.dumps(summary, indent=1))
    figures = draw_figures(run)
    outputs = [str(run.root / "prefs" / a / "model") for a in cfg.prefs.algorithms]
    return {**summary, "outputs": [*outputs, str(run.root / "prefs" / "summary.json"), *figures]}


TRUNK_LIMIT_GIB = 4.0  # above this estimate the runs compute the trunk on every step instead of holding it


def shared_trunk(cfg, pairs=(), batches=()):
    """One frozen-trunk cache for the reference pass and every algorithm, when they can share it (eurus_lib/trunk.py).

    In "merge" mode the reference and the three policies are the merged SFT body with adapters on
    its last `prefs.lora_layers` layers only, so the layers below see the same sequences the same
    way in every run. The cache holds one hidden vector per token of every sequence the runs see
    (two sides, and KTO's two KL rows, per pair); a run whose estimate exceeds TRUNK_LIMIT_GIB goes
    without it and says so.
    """
    from ..models import model_config
    from ..trunk import TrunkCache
    from .policy import start_mode

    k = cfg.prefs.lora_layers
    if start_mode(cfg.model) != "merge" or k <= 0:
        return None
    sides = 4 if "kto" in cfg.prefs.algorithms else 2
    tokens = sides * sum(pairs[i].length for batch in batches for i in batch)
    gib = tokens * model_config(cfg.model.policy).hidden_size * 4 / 2**30
    if gib > TRUNK_LIMIT_GIB:
        print(f"[prefs] not sharing the frozen trunk: its states would take about {gib:.1f} GiB "
              f"(limit {TRUNK_LIMIT_GIB} GiB); every step runs all layers", flush=True)
        return None
    return TrunkCache(k)


def prepare_pairs(run: RunDir, cfg):
    """(usable pairs, skipped counts, batches): bad pairs counted and skipped, one shared batch order."""
    from ..dist import world_size
    from ..errors import KitError
    from ..jsonl import read_jsonl
    from ..models import load_tokenizer
    from .data import batch_order, describe_skipped, drop_kto_leftover, token_lengths, usable_pairs

    rows = read_jsonl(run.root / "trees" / "pairs.jsonl")
    if not rows:
        raise KitError(f"{run.root / 'trees' / 'pairs.jsonl'} holds no pairs; the trees stage found no turn with "
                       "both a correct and a wrong action. Grow more trees (tasks.n_train, trees.max_turns).")
    tok = load_tokenizer(str(run.root / "sft" / "model"), cfg.model.chat_template)
    pairs, skipped = usable_pairs(rows, token_lengths(tok), cfg.model.max_seq_len, cfg.prefs.max_pairs)
    batches = batch_order([p.length for p in pairs], cfg.prefs.batch_size, cfg.run.seed)
    if "kto" in cfg.prefs.algorithms:
        batches = drop_kto_leftover(batches, skipped)
    if cfg.prefs.max_steps > 0:  # the updates stop there: train on, and score the reference for, those batches only
        batches = batches[: cfg.prefs.max_steps * cfg.prefs.grad_accum * world_size()]
    print(f"[prefs] {sum(map(len, batches))} pairs in {len(batches)} batches of {cfg.prefs.batch_size}"
          + (f"; skipped {describe_skipped(skipped)}" if skipped else ""), flush=True)
    return pairs, skipped, batches


def reference_and_sft(run: RunDir, cfg, pairs, batches, tasks, device, trunk=None):
    """The shared reference log-probs, and the SFT policy's held-out records (from the sft stage when it scored them)."""
    from ..policies import heldout_records
    from .policy import start_policy
    from .reference import shared_reference

    start = start_policy(run.root / "sft" / "model", cfg.model, device)  # scores only: no adapters needed
    sft = _cached_records(run.root / "sft" / "heldout" / "sft.jsonl", tasks)
    if sft is None:  # the sft stage scored other problems: score the SFT policy here, once
        start.model.eval()
        sft = heldout_records(run, "prefs", "sft", start.model, start.tok, cfg, tasks)
    ref = shared_reference(start, pairs, batches, cfg.prefs, run.root / "prefs", seed=cfg.run.seed, device=device,
                           with_kl="kto" in cfg.prefs.algorithms, max_length=cfg.model.max_seq_len, trunk=trunk)
    del start
    gc.collect()
    return ref, {"sft": sft}


def train_and_score(algo: str, run: RunDir, cfg, pairs, batches, ref, tasks, device, trunk=None):
    """Train one algorithm unless it finished before, then its held-out records (read back when scored)."""
    from ..policies import heldout_records, load_trained_policy
    from .data import dpo_rows, kto_rows
    from .policy import start_policy
    from .train import finished, train_algorithm

    out = run.root / "prefs" / algo
    summary = finished(out)
    if summary is None:
        start = start_policy(run.root / "sft" / "model", cfg.model, device, lora_layers=cfg.prefs.lora_layers)
        rows = (kto_rows if algo == "kto" else dpo_rows)(pairs, batches, ref)
        print(f"[prefs] {algo}: training on {len(rows)} rows from the SFT policy ...", flush=True)
        summary = train_algorithm(algo, start, rows, cfg.prefs, out, sft_dir=run.root / "sft" / "model",
                                  seed=cfg.run.seed, device=device, max_length=cfg.model.max_seq_len,
                                  gradient_checkpointing=cfg.model.gradient_checkpointing, trunk=trunk)
        del start
        gc.collect()
    records = _cached_records(run.root / "prefs" / "heldout" / f"{algo}.jsonl", tasks)
    if records is None:
        model, tok = load_trained_policy(out / "model", cfg.model, device)
        records = heldout_records(run, "prefs", algo, model, tok, cfg, tasks)
        del model
        gc.collect()
    return summary, records


def _cached_records(path: Path, tasks) -> list[dict] | None:
    from ..jsonl import read_jsonl

    rows = read_jsonl(path)
    return rows if [r["id"] for r in rows] == [t.id for t in tasks] else None


def summarize(run: RunDir, cfg, pairs, skipped, batches, trained, records, mode: str) -> dict:
    from ..eval.heldout import compare_policies
    from .data import describe_skipped
    from .verdict import accuracy_verdict, reward_dynamics, reward_verdict

    comparison = compare_policies(records)
    dynamics = reward_dynamics(_logs(run, cfg.prefs.algorithms))
    return {"pairs": sum(map(len, batches)), "pairs_available": len(pairs) + sum(skipped.values()),
            "skipped": skipped, "skipped_text": describe_skipped(skipped), "batches": len(batches),
            "start_mode": mode, "train": trained, "heldout": comparison, "dynamics": dynamics,
            "verdict": {"rewards": reward_verdict(dynamics), "accuracy": accuracy_verdict(comparison)}}


def _seconds(run: RunDir) -> dict:
    """Where the stage's time went besides training: the reference pass, each policy's held-out answers."""
    from ..policies import SECONDS_FILE, read_seconds

    return {"reference": read_seconds(run.root / "prefs" / SECONDS_FILE).get("reference"),
            "heldout": read_seconds(run.root / "prefs" / "heldout" / SECONDS_FILE)}


def _logs(run: RunDir, algorithms) -> dict[str, list[dict]]:
    from ..jsonl import read_jsonl

    return {a: read_jsonl(run.root / "prefs" / a / "log.jsonl") for a in algorithms}


def draw_figures(run: RunDir) -> list[str]:
    """Figure 5 analog (rewards against progress, paper's final chosen marked) and the Table 3 analog bars."""
    from ..plots import save_figure
    from ..plots.eval import plot_policy_comparison
    from ..plots.training import plot_reward_dynamics
    from .paper import FINAL_CHOSEN

    summary = json.loads((run.root / "prefs" / "summary.json").read_text())
    logs = _logs(run, summary["train"])
    fig = plot_reward_dynamics(logs, paper_final_chosen=FINAL_CHOSEN)
    paths = [save_figure(fig, run.path("figures", FIGURES["dynamics"]))]
    fig = plot_policy_comparison(summary["heldout"], title="Held-out pass@1: SFT, DPO, KTO, NCA (Table 3 analog)")
    paths.append(save_figure(fig, run.path("figures", FIGURES["heldout"])))
    return [str(p) for p in paths]


def report(run: RunDir) -> str:
    """Markdown: data, training, figure 5 and Table 3 analogs with the paper beside ours, the verdict, findings."""
    from ..eval.heldout import comparison_markdown
    from .paper import table3_rows
    from .verdict import verdict_markdown

    path = run.root / "prefs" / "summary.json"
    if not path.is_file():
        return "No preference-learning summary in this run folder."
    s = json.loads(path.read_text())
    parts = [_data_sentence(s), "", _training_table(s), "",
             f"![Implicit rewards during preference learning](../figures/{FIGURES['dynamics']})", "",
             "Held-out pass@1, greedy, judged like the trees (percent, 95% Wilson interval); the paper's Eurus-7B "
             "rows map its math columns (GSM-Plus, MATH, TheoremQA, SVAMP, ASDiv) to `math`, its coding columns "
             "(HumanEval, MBPP, LeetCode) to `code`, and its 12-benchmark average to `all`; `logic` has no "
             "counterpart (eurus_lib/prefs/paper.py):", "",
             comparison_markdown(s["heldout"], paper=table3_rows()), "",
             f"![Held-out pass@1 of SFT, DPO, KTO and NCA](../figures/{FIGURES['heldout']})", "",
             verdict_markdown(s["dynamics"], s["verdict"]["rewards"], s["verdict"]["accuracy"])]
    return "\n".join(parts)


def _data_sentence(s: dict) -> str:
    skipped = f"; skipped {s['skipped_text']}" if s.get("skipped_text") else "; no pair skipped"
    return (f"Trained DPO, KTO and NCA from the SFT policy on {s['pairs']} of {s['pairs_available']} pairs "
            f"({s['batches']} batches{skipped}), reference log-probs scored once and shared; start mode "
            f"`{s['start_mode']}` (eurus_lib/prefs/policy.py).")


def _training_table(s: dict) -> str:
    lines = ["| algorithm | steps | seconds | mean loss | final chosen | final rejected | final margin | final acc |",
             "|---|---|---|---|---|---|---|---|"]
    for algo, t in s["train"].items():
        d = s["dynamics"].get(algo, {})
        cells = [_fmt(d.get(k)) for k in ("rewards/chosen", "rewards/rejected", "rewards/margins",
                                           "rewards/accuracies")]
        lines.append(f"| {algo.upper()} | {t['steps']} | {t['seconds'] or 0:.0f} | {t['train_loss']:.4f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nFinal = mean over the last 10% of steps."


def _fmt(stats: dict | None) -> str:
    return "-" if not stats else f"{stats['mean']:+.3f}"
