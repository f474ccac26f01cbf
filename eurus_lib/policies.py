"""The policies a run trains, and their held-out pass@1, scored once and kept in the run folder.

    model, tok = load_trained_policy(run.root / "sft" / "model", cfg.model, device)
    records = heldout_records(run, "sft", "sft", model, tok, cfg, heldout)   # sft/heldout/sft.jsonl

A trained policy is a LoRA adapter folder (or a full checkpoint with `model.lora_r=0`); the base
model it was trained from is named inside it. Held-out answers are greedy and judged by the same
environment that labelled the trees (`eurus_lib.eval.heldout`). The records of each policy are
written next to the model that produced them, so the report, the notebooks and the `eval` stage
read the same numbers instead of scoring a policy twice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .jsonl import read_jsonl, write_jsonl


def load_trained_policy(folder: str | Path, model_settings, device: str):
    """(model, tokenizer) of a stage's saved policy, in eval mode, for answering and sampling.

    LoRA adapters are merged into the weights (unless the base is 4-bit, where merging would round
    them): the merged model computes the same function with one matmul per projection instead of
    three, which is about 10% of a greedy answer on the tiny model.
    """
    from .models import load_policy

    model, tok = load_policy(str(folder), model_settings, device=device)
    if hasattr(model, "merge_and_unload") and not model_settings.load_in_4bit:
        model = model.merge_and_unload()
    return model.eval(), tok


def load_policy_group(folders: dict, model_settings, device: str):
    """(model, tokenizer, {name: adapter name}) holding several saved policies in one peft model, or None.

    Policies group when they differ only in a LoRA adapter on one shared base: in the tiny preset
    DPO, KTO and NCA are adapters on the merged SFT policy, which is itself the group's
    "__base__" (no adapter); with QLoRA, the SFT and preference adapters all stand on the 4-bit
    base. Rows of one batch then pick their policy through peft's `adapter_names`
    (`eval.sampling.sample_n`). The adapters stay unmerged, which computes the same function as
    `load_trained_policy`'s merged weights up to float rounding. None when they do not share a
    base (a full fine-tune, the raw base model, adapters on different bases): load them one by one.
    """
    from peft import PeftModel

    from .models import adapter_base, load_policy

    if len(folders) < 2:
        return None
    paths = {name: str(Path(folder).resolve()) for name, folder in folders.items()}
    below = {name: adapter_base(path) for name, path in paths.items()}
    candidates = [b for b in below.values() if b] + list(paths.values())
    base = next((b for b in candidates if all(paths[n] == b or below[n] == b for n in paths)
                 and sum(p == b for p in paths.values()) <= 1), None)
    if base is None:
        return None
    if adapter_base(base) is not None:  # the shared base is an adapter itself (the SFT policy): merge it
        if model_settings.load_in_4bit:  # merging into NF4 weights would round it: not the evaluated policy
            return None
        model, tok = load_trained_policy(base, model_settings, device)
    else:
        model, tok = load_policy(base, model_settings, device=device)
    routes = {name: "__base__" if path == base else name for name, path in paths.items()}
    for name, adapter in routes.items():
        if adapter == "__base__":
            continue
        if isinstance(model, PeftModel):
            model.load_adapter(paths[name], adapter_name=adapter)
        else:
            model = PeftModel.from_pretrained(model, paths[name], adapter_name=adapter)
    return model.eval(), tok, routes


def heldout_environment(cfg):
    """The environment that judges held-out answers: the trees stage's sandbox limits."""
    from .trees.environment import Environment, sandbox_executor

    settings = cfg.trees
    return Environment(sandbox_executor(timeout_s=settings.sandbox_timeout_s, memory_mb=settings.sandbox_memory_mb),
                       observation_chars=settings.observation_chars, timeout_s=settings.sandbox_timeout_s)


def heldout_tasks(run, cfg):
    """The run's held-out problems (the `tasks` stage), capped at `eval.max_problems` with families interleaved."""
    from .tasks.stage import load_heldout

    return load_heldout(run)[: cfg.eval.max_problems]


def heldout_records(run, stage: str, name: str, model, tok, cfg, tasks) -> list[dict]:
    """Greedy pass@1 records of one policy, read from `<stage>/heldout/<name>.jsonl` when already scored."""
    return heldout_records_together(run, stage, {name: None}, model, tok, cfg, tasks)[name]


def heldout_records_together(run, stage: str, adapters: dict, model, tok, cfg, tasks) -> dict[str, list[dict]]:
    """`heldout_records` of several policies held by one peft model, answered in one batch.

    adapters: {policy name: its adapter in `model`, "__base__" for the model without adapters;
    None for a policy that is `model` itself}. Each policy's records are read from, or written to,
    `<stage>/heldout/<name>.jsonl`; the unscored policies' answers decode together
    (`sampling.sample_n`, adapter_names), so a few long answers of one policy do not each get a
    tail of nearly empty decode steps of their own.
    """
    from .eval.heldout import answer_tasks, judge

    paths = {name: run.root / stage / "heldout" / f"{name}.jsonl" for name in adapters}
    out = {name: read_jsonl(path) for name, path in paths.items()}
    todo = [name for name in adapters if [r["id"] for r in out[name]] != [t.id for t in tasks]]
    if not todo:
        return out
    who = f"the {todo[0]} policy" if len(todo) == 1 else f"the {', '.join(todo)} policies together"
    print(f"[{stage}] answering {len(tasks)} held-out problems with {who} (greedy) ...", flush=True)
    start = time.perf_counter()
    routed = any(adapters[name] is not None for name in todo)
    responses = answer_tasks(model, tok, [t for _ in todo for t in tasks], max_new_tokens=cfg.eval.max_new_tokens,
                             batch_size=cfg.eval.batch_size, progress=f"{', '.join(todo)}: held-out",
                             adapter_names=[adapters[name] for name in todo for _ in tasks] if routed else None)
    environment = heldout_environment(cfg)
    for k, name in enumerate(todo):
        out[name] = judge(tasks, responses[k * len(tasks):(k + 1) * len(tasks)], environment)
        write_jsonl(paths[name], out[name])
    record_seconds(paths[todo[0]].parent / SECONDS_FILE, " + ".join(todo), time.perf_counter() - start)
    return out


SECONDS_FILE = "seconds.json"  # beside the records: how long each policy's answering and judging took


def read_seconds(path) -> dict:
    """The `record_seconds` table at path ({} when nothing was timed there)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def record_seconds(path, name: str, seconds: float) -> None:
    """Add `name: seconds` to a small JSON table (where a stage's time went, for its summary and the README)."""
    table = read_seconds(path)
    table[name] = round(seconds, 1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(table, indent=1))
