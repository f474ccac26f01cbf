"""Notebook 04's short reward-model runs: the rm stage's own functions on a few pairs, for a few steps.

    demo = RewardDemo(cfg, run, "cpu", pairs_source(run).rows, n_pairs=8, n_view=8)
    demo.prepare()                                   # tokenized pairs, view pairs, the untrained start scored
    result = demo.run(on_record=live.update)         # cfg.rm.objectives[0] with cfg.rm.lr and cfg.rm.max_steps
    result["views"][-1]                              # the view pairs' rewards after the last step

Each run starts from the run's SFT model with a new one-output head (`rm.model.start_reward_model`,
as the stage starts), or from the base model with fresh LoRA and the new head when the sft stage has
not run, and trains with `rm.train.train_objective`, the stage's function (TRL's RewardTrainer with
`losses.reward_model_loss`). After every optimizer step the *view pairs* are scored with the model
being trained, so the notebook can redraw the chosen and rejected reward distributions as training
moves. The view pairs are the rm stage's held-out pairs when it has run (a problem's ground-truth
action against the policy's wrong answer), else sample pairs held back from the demo's training.
The frozen layers below the last `rm.lora_layers` are computed once per sequence and shared by
every run and every scoring (`eurus_lib.trunk.TrunkCache`, exact). Runs go to
`<run>/notebooks/04_reward_model/<k>_<objective>/`, never to the stage's `rm/` folder, and the
trained model is deleted after each run: the demo is about the rewards.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import KitError
from ..jsonl import read_jsonl

DEMO_FOLDER = ("notebooks", "04_reward_model")
FAMILY = {"Coding": "code", "Logic": "logic"}  # task label -> held-out family; every math label is "math"


def view_pair(row: dict) -> dict:
    """A trajectory pair as a scored pair: {"id", "family", "kind", "prompt", "chosen", "rejected"}."""
    from ..rm.data import pair_example

    example = pair_example(row, "ultrainteract")
    return {**example, "family": FAMILY.get(row.get("task", ""), "math"), "kind": "ground_truth"}


def _chars(pair: dict) -> int:
    prompt = pair["trajectory"] if "trajectory" in pair else pair["prompt"]
    return sum(len(t.get("value") or t.get("content") or "") for t in prompt) + len(pair["chosen"]) + len(pair["rejected"])


def split_pairs(run, rows: Sequence[dict], n_view: int) -> tuple[list[dict], list[dict], str]:
    """(rows to train on, view pairs, sentence), shortest first, so a CPU step stays short.

    The view pairs are the rm stage's held-out pairs when it has run; else every other one of the
    shortest sample pairs is held back from training to be watched.
    """
    held = sorted((p for p in read_jsonl(run.root / "rm" / "heldout_pairs.jsonl") if p["kind"] == "ground_truth"),
                  key=_chars)
    ordered = sorted(rows, key=_chars)
    if held:
        return ordered, held[:n_view], (f"the {min(n_view, len(held))} shortest of the rm stage's {len(held)} "
                                        "held-out pairs (a held-out problem's ground-truth action against the "
                                        "policy's wrong answer; never trained on)")
    n_view = min(n_view, len(rows) // 2)  # a small sample: half to train on, half to watch
    if n_view < 1:
        raise KitError(f"Only {len(rows)} pair(s): the demo needs at least 2 (one to train on, one to watch).")
    view = ordered[1: 2 * n_view: 2]
    train = ordered[0: 2 * n_view: 2] + ordered[2 * n_view:]
    return train, [view_pair(r) for r in view], (f"{n_view} sample pairs held back from the demo's training (the "
                                                 "rm stage has not run here, so there are no held-out pairs yet)")


class RewardDemo:
    def __init__(self, cfg, run, device: str, rows: Sequence[dict], n_pairs: int, n_view: int = 8):
        from .samples import sft_policy

        self.cfg, self.run_dir, self.device, self.rows = cfg, run, device, list(rows)
        self.n_pairs, self.n_view = n_pairs, n_view
        self.spec, self.start_note = sft_policy(run, cfg)
        self.from_sft = self.spec != cfg.model.policy
        if not self.from_sft:
            self.start_note = (f"the base model {cfg.model.policy} with a new head, because the sft stage has not run "
                               f"in {run.root} (Eurus-RM starts from Eurus-7B-SFT, as the rm stage starts from sft/model)")
        self.out = run.root.joinpath(*DEMO_FOLDER)
        self.train_rows: list[dict] = []
        self.view: list[dict] = []
        self.view_note, self.skipped, self.trunk, self.untrained, self._fresh = "", {}, None, [], None
        self.runs: list[dict] = []

    def start(self):
        """(model, tokenizer, mode): a fresh reward model, as the stage starts one (or from the base model)."""
        from transformers import set_seed

        from ..models import load_reward_model
        from ..rm.model import rm_model_settings, start_reward_model

        settings = rm_model_settings(self.cfg)
        if self.from_sft:
            return start_reward_model(self.spec, settings, self.device, seed=self.cfg.run.seed)
        set_seed(self.cfg.run.seed)  # the same new head and fresh LoRA for every run of the demo
        model, tok = load_reward_model(self.spec, settings, device=self.device, lora=True, trainable=True)
        return model, tok, "base"

    def prepare(self) -> dict:
        """Tokenize the training pairs, pick the view pairs, score them with the untrained start; counts for the notebook."""
        from ..rm.data import tokenize_pairs
        from ..rm.model import rm_model_settings
        from ..rm.stage import max_length
        from ..trunk import TrunkCache

        train, self.view, self.view_note = split_pairs(self.run_dir, self.rows, self.n_view)
        model, tok, mode = self.start()
        examples = [view_pair(r) | {"source": "ultrainteract"} for r in train]
        self.train_rows, skipped = tokenize_pairs(examples, tok, max_length(self.cfg))
        self.train_rows = self.train_rows[: self.n_pairs]
        self.skipped = {k: v for k, v in skipped.items() if v}
        k = rm_model_settings(self.cfg).lora_layers  # every run shares the layers below its last k (checked per use)
        self.trunk = TrunkCache(k) if k > 0 else None
        self.untrained = self.score(model, tok)
        self._fresh = (model, tok, mode)  # untrained: the first run starts from it instead of loading again
        return {"pairs": len(self.train_rows), "view": len(self.view), "skipped": self.skipped}

    def score(self, model, tok) -> list[dict]:
        """The view pairs with `chosen_reward` / `rejected_reward` under `model` (eval mode for the call)."""
        from ..rm.evaluate import score_pairs
        from ..trunk import shares_trunk

        was_training = model.training
        model.eval()
        trunk = self.trunk if self.trunk is not None and shares_trunk(model, self.trunk.k) else None
        scored = score_pairs(model, tok, self.view, batch_size=self.cfg.rm.score_batch_size, trunk=trunk)
        model.train(was_training)
        return scored

    def run(self, on_record: Callable[[dict], None] | None = None,
            on_scores: Callable[[int, list[dict]], None] | None = None) -> dict:
        """Train cfg.rm.objectives[0] for cfg.rm.max_steps steps; the view pairs are scored after each step."""
        from ..rm.stage import max_length
        from ..rm.train import train_objective
        from ..trunk import shares_trunk

        if not self.train_rows:
            raise KitError("Call prepare() first: the demo has no tokenized pairs yet.")
        r = self.cfg.rm
        if r.max_steps < 1:
            raise KitError(f"rm.max_steps={r.max_steps}; the demo trains a fixed number of steps, set it to 1 or more.")
        objective = r.objectives[0]
        folder = self.out / f"{len(self.runs) + 1:02d}_{objective}"
        shutil.rmtree(folder, ignore_errors=True)
        model, tok, mode = self._fresh or self.start()
        self._fresh = None
        views = [self.untrained]

        def step(record: dict) -> None:
            if on_record is not None:
                on_record(record)
            views.append(self.score(model, tok))
            if on_scores is not None:
                on_scores(int(record["step"]), views[-1])

        trunk = self.trunk if self.trunk is not None and shares_trunk(model, self.trunk.k) else None
        sft_dir = Path(self.spec) if self.from_sft else folder
        summary = train_objective(objective, model, tok, mode, self.train_rows, r, folder, sft_dir=sft_dir,
                                  seed=self.cfg.run.seed, device=self.device, max_length=max_length(self.cfg),
                                  trunk=trunk, on_record=step)
        model = None  # freed before the next run loads another
        gc.collect()
        shutil.rmtree(folder / "model", ignore_errors=True)
        result = {"objective": objective, "lr": r.lr, "steps": r.max_steps, "summary": summary,
                  "log": read_jsonl(folder / "log.jsonl"), "views": views, "folder": str(folder)}
        self.runs.append(result)
        return result


def run_label(result: dict) -> str:
    """'BT+DR lr=0.001' for legends and the status line."""
    return f"{result['objective'].upper()} lr={result['lr']:g}"


def view_summary(scored: Sequence[dict]) -> str:
    """'pair acc. 62% · chosen > 0: 50% · rejected < 0: 38%' for a list of scored view pairs."""
    from ..rm.evaluate import cell

    c = cell(scored)
    return (f"pair acc. {100 * c['accuracy']:.0f}% · chosen > 0: {100 * c['chosen_positive']:.0f}% · "
            f"rejected < 0: {100 * c['rejected_negative']:.0f}% · mean chosen {c['mean_chosen']:+.3f}, "
            f"rejected {c['mean_rejected']:+.3f}")


def result_sentence(result: dict) -> str:
    seconds = result["summary"].get("seconds") or 0
    return (f"{run_label(result)}: {result['summary']['steps']} steps in {seconds:.0f} s; view pairs after the last "
            f"step: {view_summary(result['views'][-1])}.")
