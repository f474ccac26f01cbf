"""Notebook 03's short preference runs: the prefs stage's own functions on a few pairs, for a few steps.

    demo = PreferenceDemo(cfg, run, "cpu", pairs_source(run).rows, n_pairs=8)
    demo.prepare()                       # usable pairs, one batch order, reference log-probs scored once
    result = demo.run(on_record=live.update)   # cfg.prefs.algorithms[0] with cfg.prefs.beta, lr, max_steps

Each run starts from the run's SFT policy (`prefs.policy.start_policy`), or from the base model
with fresh LoRA adapters when the sft stage has not run, and trains with `prefs.train.
train_algorithm`, the stage's function, on rows built by `prefs.data` with the reference
log-probs `prefs.reference.shared_reference` scored once in `prepare`: every run of the demo,
whatever its algorithm or β, reuses them (a reference log-prob does not depend on β). Runs go to
`<run>/notebooks/03_preference_learning/<k>_<algo>/`, never to the stage's `prefs/` folder; the
trained adapter is deleted after each run, since the demo is about the reward dynamics.
"""

from __future__ import annotations

import gc
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import KitError

DEMO_FOLDER = ("notebooks", "03_preference_learning")


class PreferenceDemo:
    def __init__(self, cfg, run, device: str, rows: Sequence[dict], n_pairs: int):
        from .samples import sft_policy

        self.cfg, self.run_dir, self.device, self.rows, self.n_pairs = cfg, run, device, list(rows), n_pairs
        self.spec, self.start_note = sft_policy(run, cfg)
        self.from_sft = self.spec != cfg.model.policy
        self.out = run.root.joinpath(*DEMO_FOLDER)
        self.pairs, self.skipped, self.batches, self.reference = [], {}, [], {}
        self.trunk = None  # frozen-trunk states shared by the reference pass and every run (eurus_lib/trunk.py)
        self.runs: list[dict] = []

    def start(self):
        """A fresh start policy: the SFT policy (merged, fresh adapters) or the base model with fresh adapters."""
        from ..models import load_policy
        from ..prefs.policy import Start, lora_config, start_policy

        if self.from_sft:
            return start_policy(self.spec, self.cfg.model, self.device)
        model, tok = load_policy(self.spec, self.cfg.model, device=self.device)
        model.train()
        return Start(model, tok, lora_config(model, self.cfg.model), "base")

    def prepare(self) -> dict:
        """Pick the usable pairs, fix their batches, score the reference once; return counts for the notebook."""
        from ..models import load_tokenizer
        from ..prefs.data import batch_order, drop_kto_leftover, token_lengths, usable_pairs
        from ..prefs.reference import REF_FILE, shared_reference
        from ..trunk import TrunkCache

        tok = load_tokenizer(self.spec, self.cfg.model.chat_template)
        self.pairs, self.skipped = usable_pairs(self.rows, token_lengths(tok), self.cfg.model.max_seq_len,
                                                self.n_pairs)
        self.batches = drop_kto_leftover(
            batch_order([p.length for p in self.pairs], self.cfg.prefs.batch_size, self.cfg.run.seed), self.skipped)
        (self.out / REF_FILE).unlink(missing_ok=True)  # the start policy may have changed since the last demo
        start = self.start()
        self.trunk = TrunkCache(self.cfg.model.lora_layers) if self.cfg.model.lora_layers > 0 else None
        t0 = time.perf_counter()
        self.reference = shared_reference(start, self.pairs, self.batches, self.cfg.prefs, self.out, with_kl=True,
                                          seed=self.cfg.run.seed, device=self.device,
                                          max_length=self.cfg.model.max_seq_len, trunk=self.trunk)
        seconds = time.perf_counter() - t0
        del start
        gc.collect()
        return {"pairs": sum(map(len, self.batches)), "batches": len(self.batches), "skipped": dict(self.skipped),
                "reference_seconds": round(seconds, 1)}

    def reference_rows(self) -> list[dict]:
        """One row per pair: its turn, the shared reference log-probs and the KTO KL partners."""
        from .samples import pair_turn

        rows = []
        for batch in self.batches:
            for i in batch:
                pair, ref = self.pairs[i], self.reference[self.pairs[i].id]
                rows.append({"id": pair.id, "turn": pair_turn(pair.row), "tokens": pair.length,
                             "ref chosen": ref["chosen"], "ref rejected": ref["rejected"],
                             "KL rows score": " / ".join(ref.get("kl_from", []))})
        return rows

    def run(self, on_record: Callable[[dict], None] | None = None) -> dict:
        """Train cfg.prefs.algorithms[0] for cfg.prefs.max_steps steps; return its settings, summary and log."""
        from ..jsonl import read_jsonl
        from ..prefs.data import dpo_rows, kto_rows
        from ..prefs.train import train_algorithm

        if not self.batches:
            raise KitError("Call prepare() first: the demo has no pairs and no reference log-probs yet.")
        p = self.cfg.prefs
        if p.max_steps < 1:
            raise KitError(f"prefs.max_steps={p.max_steps}; the demo trains a fixed number of steps, set it to 1 or more.")
        if sum(map(len, self.batches[:1])) != p.batch_size and len(self.batches) > 1:
            raise KitError("prefs.batch_size changed after prepare(); call prepare() again.")
        algo = p.algorithms[0]
        folder = self.out / f"{len(self.runs) + 1:02d}_{algo}"
        shutil.rmtree(folder, ignore_errors=True)
        rows = (kto_rows if algo == "kto" else dpo_rows)(self.pairs, self.batches, self.reference)
        start = self.start()
        summary = train_algorithm(algo, start, rows, p, folder, sft_dir=Path(self.spec), seed=self.cfg.run.seed,
                                  device=self.device, max_length=self.cfg.model.max_seq_len, on_record=on_record,
                                  trunk=self.trunk)
        del start
        gc.collect()
        shutil.rmtree(folder / "model", ignore_errors=True)
        result = {"algorithm": algo, "beta": p.beta, "lr": p.lr, "steps": p.max_steps, "summary": summary,
                  "log": read_jsonl(folder / "log.jsonl"), "folder": str(folder)}
        self.runs.append(result)
        return result


def run_label(result: dict) -> str:
    """'DPO β=0.1 lr=5e-05' for legends and the status line."""
    return f"{result['algorithm'].upper()} β={result['beta']:g} lr={result['lr']:g}"


def result_sentence(result: dict) -> str:
    """One line: what ran and where its rewards ended."""
    last = result["log"][-1] if result["log"] else {}
    ends = ", ".join(f"{k.removeprefix('rewards/')} {last[k]:+.4f}" for k in
                     ("rewards/chosen", "rewards/rejected", "rewards/margins") if k in last)
    seconds = result["summary"].get("seconds") or 0
    return f"{run_label(result)}: {result['summary']['steps']} steps in {seconds:.0f} s; last step {ends or 'not logged'}."
