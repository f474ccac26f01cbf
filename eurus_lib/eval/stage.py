"""The `eval` stage: every trained policy on the held-out problems, best-of-N reranking, multi-turn.

    eurus-kit eval --preset tiny                    # into runs/tiny/eval/
    eurus-kit eval --preset tiny eval.best_of_n=1,2,4 eval.max_turns=3

Reads `tasks/heldout.jsonl`, the policies `sft/model/` and `prefs/<algo>/model/`, their held-out
records (`sft/heldout/`, `prefs/heldout/`: scored once by the stage that trained them) and the
reward models `rm/<objective>/model/`. Writes
- `eval/heldout.json`: the Table 3 analog over every policy the run trained (pass@1, greedy);
- `eval/samples.jsonl` + `eval/best_of_n.json`: N answers per problem from the SFT policy, judged,
  scored by each reward model, and the Figure 4 / Table 9 analog (pick by RM, at random, by
  self-consistency, by top log-probability; oracle pass@N as the ceiling);
- `eval/multiturn/<policy>.jsonl`: the MINT analog, success by turn 1..`eval.max_turns`;
- `eval/benchmarks/<name>.jsonl` for `eval.benchmarks` (online only);
and their figures. Each part reuses what an interrupted run already wrote.
"""

from __future__ import annotations

import json
import time

from ..jsonl import read_jsonl, write_jsonl
from ..policies import SECONDS_FILE, read_seconds, record_seconds
from ..runs import RunDir

FIGURES = {"heldout": "eval_heldout.png", "bon": "eval_best_of_n.png", "multiturn": "eval_multiturn.png"}
PREFS = ("dpo", "kto", "nca")


def run(cfg, run: RunDir) -> dict:
    """Gather pass@1, sample and rerank, interact, then draw the figures."""
    from ..hardware import pick_device
    from ..policies import heldout_tasks

    device, _ = pick_device(cfg)
    tasks = heldout_tasks(run, cfg)
    heldout = gather_heldout(run)
    run.path("eval", "heldout.json").write_text(json.dumps(heldout, indent=1))
    bon = best_of_n(run, cfg, tasks[: cfg.eval.bon_problems], device) if cfg.eval.bon_problems else None
    multiturn = multi_turn(run, cfg, tasks[: cfg.eval.multiturn_problems], device)
    benchmarks = score_benchmarks(run, cfg, device)
    figures = draw_figures(run)
    outputs = [str(run.root / "eval" / f) for f in ("heldout.json", "best_of_n.json", "multiturn")]
    return {"policies": list(heldout["policies"]), "best_of_n": bon, "multiturn": multiturn,
            "benchmarks": benchmarks, "seconds": read_seconds(run.root / "eval" / SECONDS_FILE),
            "outputs": outputs + figures}


def policy_folders(run: RunDir) -> dict:
    """name -> saved policy folder, for every policy this run trained (SFT first, then the preference ones)."""
    found = {"sft": run.root / "sft" / "model"}
    found.update({algo: run.root / "prefs" / algo / "model" for algo in PREFS})
    return {name: path for name, path in found.items() if path.is_dir()}


def gather_heldout(run: RunDir) -> dict:
    """The Table 3 analog from the records each training stage wrote (base, SFT, DPO, KTO, NCA)."""
    from .heldout import compare_policies

    records = {}
    for name, path in (("base", run.root / "sft" / "heldout" / "base.jsonl"),
                       ("sft", run.root / "sft" / "heldout" / "sft.jsonl"),
                       *((a, run.root / "prefs" / "heldout" / f"{a}.jsonl") for a in PREFS)):
        rows = read_jsonl(path)
        if rows:
            records[name] = rows
    return compare_policies(records)


def best_of_n(run: RunDir, cfg, tasks, device) -> dict:
    """Sample max(N) answers per problem from the SFT policy, judge and score them, and build the curve."""
    from .bestofn import best_of_n_curve, standard_selectors

    samples = _samples(run, cfg, tasks, device)
    names = _score_with_reward_models(run, cfg, tasks, samples, device)
    correct = [[s["correct"] for s in group] for group in samples]
    curve = best_of_n_curve(samples, correct, cfg.eval.best_of_n, standard_selectors(names), seed=cfg.run.seed)
    run.path("eval", "best_of_n.json").write_text(json.dumps(curve, indent=1))
    return curve


def _samples(run: RunDir, cfg, tasks, device) -> list[list[dict]]:
    from ..policies import heldout_environment, load_trained_policy
    from .heldout import conversation, judge_samples
    from .sampling import sample_n

    path = run.root / "eval" / "samples.jsonl"
    n = max(cfg.eval.best_of_n)
    cached = read_jsonl(path)
    if [r["id"] for r in cached] == [t.id for t in tasks] and all(len(r["samples"]) >= n for r in cached):
        return [r["samples"][:n] for r in cached]
    began = time.perf_counter()
    model, tok = load_trained_policy(run.root / "sft" / "model", cfg.model, device)
    print(f"[eval] sampling {n} answers for each of {len(tasks)} held-out problems from the SFT policy ...", flush=True)
    raw = sample_n(model, tok, [conversation(t) for t in tasks], n, temperature=cfg.eval.bon_temperature,
                   top_p=cfg.eval.bon_top_p, max_new_tokens=cfg.eval.max_new_tokens, seed=cfg.run.seed,
                   batch_size=4 * cfg.eval.batch_size, progress="best-of-N samples")
    raw = [[{k: v for k, v in s.items() if k != "token_ids"} for s in group] for group in raw]
    judged = judge_samples(tasks, raw, heldout_environment(cfg))
    write_jsonl(path, [{"id": t.id, "family": t.family, "samples": group} for t, group in zip(tasks, judged)])
    record_seconds(run.path("eval", SECONDS_FILE), "best-of-N samples", time.perf_counter() - began)
    return judged


def _score_with_reward_models(run: RunDir, cfg, tasks, samples, device) -> list[str]:
    """Add each trained reward model's score to every sample (`sample["rewards"]["reward:<objective>"]`, where
    `bestofn.pick_by_reward` reads it).

    The objectives' models differ only above the frozen trunk the rm stage shared between them
    (`eurus_lib/trunk.py`), so they score the samples together: the trunk once per answer, then
    each model's own top layers and head. Models that cannot share it are scored one by one.
    """
    from ..rm import load_trained_reward_model
    from ..rm.model import model_folder
    from ..trunk import TrunkCache, shares_trunk
    from .heldout import conversation
    from .scoring import reward_scores

    names = [f"reward:{o}" for o in cfg.rm.objectives if model_folder(run, o).is_dir()]
    missing = [n for n in names if not all(n in s.get("rewards", {}) for group in samples for s in group)]
    if missing:
        began = time.perf_counter()
        models = {}
        for name in missing:
            models[name], tok = load_trained_reward_model(run, name.removeprefix("reward:"), cfg, device)
        prompts = [conversation(t) for t, group in zip(tasks, samples) for _ in group]
        responses = [s["response"] for g in samples for s in g]
        k = cfg.rm.lora_layers
        together = {n: m for n, m in models.items() if k > 0 and shares_trunk(m, k)}
        scores = TrunkCache(k).scores(together, tok, prompts, responses, batch_size=cfg.eval.batch_size,
                                      progress="reward models") if together else {}
        for name in models.keys() - together.keys():
            scores[name] = reward_scores(models[name], tok, prompts, responses, batch_size=cfg.eval.batch_size,
                                         progress=name)
        flat = [s for group in samples for s in group]
        for name, values in scores.items():
            for sample, value in zip(flat, values, strict=True):
                sample.setdefault("rewards", {})[name] = value
        record_seconds(run.path("eval", SECONDS_FILE), "reward scoring", time.perf_counter() - began)
    write_jsonl(run.root / "eval" / "samples.jsonl",
                [{"id": t.id, "family": t.family, "samples": g} for t, g in zip(tasks, samples)])
    return names


def multi_turn(run: RunDir, cfg, tasks, device) -> dict:
    """The MINT analog for `eval.multiturn_policies`: success rate by turn 1..max_turns."""
    from .multiturn import success_by_turn

    folders = policy_folders(run)
    records, todo = {}, {}
    for name in cfg.eval.multiturn_policies:
        rows = read_jsonl(run.root / "eval" / "multiturn" / f"{name}.jsonl")
        spec = cfg.model.policy if name == "base" else folders.get(name)
        if [r["id"] for r in rows] == [t.id for t in tasks]:
            records[name] = rows
        elif spec is not None and tasks:
            todo[name] = spec
    if todo:
        records.update(_interact(run, cfg, tasks, todo, device))
    rates = {name: success_by_turn(records[name], cfg.eval.max_turns)
             for name in cfg.eval.multiturn_policies if name in records}
    run.path("eval", "multiturn.json").write_text(json.dumps(rates, indent=1))
    return rates


def _interact(run: RunDir, cfg, tasks, specs: dict, device) -> dict[str, list[dict]]:
    """Multi-turn records of each policy in `specs`, written to eval/multiturn/<policy>.jsonl.

    Policies that are adapters on one shared base (the SFT policy and the preference adapters on
    it) interact together, in one batch per turn (`multiturn.interact_policies`); any other policy
    (the raw base model) on its own.
    """
    from ..policies import heldout_environment
    from .multiturn import greedy_actor, interact_policies

    environment, out = heldout_environment(cfg), {}
    for model, tok, routes in _policy_models(specs, cfg, device):
        began = time.perf_counter()
        names = ", ".join(routes)
        who = f"the {names} policies together" if len(routes) > 1 else f"the {names} policy"
        print(f"[eval] multi-turn interaction with {who} on {len(tasks)} problems each ...", flush=True)
        actor = greedy_actor(model, tok, max_new_tokens=cfg.eval.max_new_tokens, batch_size=cfg.eval.batch_size,
                             name="+".join(routes))
        records = interact_policies(actor, routes, tasks, environment, max_turns=cfg.eval.max_turns,
                                    seed=cfg.run.seed,
                                    first_answers={name: _heldout_answers(run, name, tasks) for name in routes})
        _save_multiturn(run, records, f"multi-turn {names}" + (" together" if len(routes) > 1 else ""),
                        time.perf_counter() - began)
        out.update(records)
        del model, actor  # before the next policy's model loads
    return out


def _policy_models(specs: dict, cfg, device):
    """(model, tokenizer, {policy: adapter}) one at a time: the policies that share a base as one peft model
    (`policies.load_policy_group`), then each other policy as its own model ({policy: None})."""
    from ..policies import load_policy_group, load_trained_policy

    group = load_policy_group({n: s for n, s in specs.items() if n != "base"}, cfg.model, device)
    grouped = group[2] if group is not None else {}
    if group is not None:
        yield group
        group = None  # released before the next model loads
    for name, spec in specs.items():
        if name not in grouped:
            model, tok = load_trained_policy(spec, cfg.model, device)
            yield model, tok, {name: None}


def _save_multiturn(run: RunDir, records: dict[str, list[dict]], label: str, seconds: float) -> None:
    for name, rows in records.items():
        write_jsonl(run.path("eval", "multiturn", f"{name}.jsonl"), rows)
    record_seconds(run.path("eval", SECONDS_FILE), label, seconds)


def _heldout_answers(run: RunDir, name: str, tasks) -> list[str] | None:
    """The policy's greedy held-out answers to `tasks` (multi-turn's turn 1), where its stage wrote them all."""
    stage = "sft" if name in ("base", "sft") else "prefs"
    rows = {r["id"]: r["response"] for r in read_jsonl(run.root / stage / "heldout" / f"{name}.jsonl")}
    return [rows[t.id] for t in tasks] if all(t.id in rows for t in tasks) else None


def score_benchmarks(run: RunDir, cfg, device) -> dict:
    """Pass@1 of the SFT policy on `eval.benchmarks` through `datasets` (needs the network)."""
    if not cfg.eval.benchmarks:
        return {}
    from ..policies import heldout_records, load_trained_policy
    from .benchmarks import load_benchmark
    from .heldout import accuracy_table

    model, tok = load_trained_policy(run.root / "sft" / "model", cfg.model, device)
    out = {}
    for name in cfg.eval.benchmarks:
        tasks = load_benchmark(name, limit=cfg.eval.max_problems)
        records = heldout_records(run, "eval", f"benchmarks/{name}", model, tok, cfg, tasks)
        out[name] = accuracy_table(records, by="dataset")
    return out


def draw_figures(run: RunDir) -> list[str]:
    from ..plots import save_figure
    from ..plots.eval import plot_best_of_n, plot_policy_comparison, plot_success_by_turn

    paths = []
    heldout = json.loads((run.root / "eval" / "heldout.json").read_text())
    if heldout["policies"]:
        paths.append(save_figure(plot_policy_comparison(heldout, title="Held-out pass@1 of every policy (Table 3 "
                                                        "analog)"), run.path("figures", FIGURES["heldout"])))
    if (run.root / "eval" / "best_of_n.json").is_file():
        curve = json.loads((run.root / "eval" / "best_of_n.json").read_text())
        paths.append(save_figure(plot_best_of_n(curve), run.path("figures", FIGURES["bon"])))
    rates = json.loads((run.root / "eval" / "multiturn.json").read_text()) \
        if (run.root / "eval" / "multiturn.json").is_file() else {}
    if rates:
        paths.append(save_figure(plot_success_by_turn(rates), run.path("figures", FIGURES["multiturn"])))
    return [str(p) for p in paths]


def report(run: RunDir) -> str:
    from .report import eval_report

    return eval_report(run)
