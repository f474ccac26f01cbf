"""Flat, per-stage settings filled from the YAML presets in `configs/`.

    cfg = load_config("tiny", overrides=["sft.lr=1e-4", "trees.max_turns=3"])

A preset names values for some fields of some sections; everything else keeps the defaults
below, which are the tiny CPU values. The notebooks' widgets bind to the same fields (each
field's `metadata` gives its help text and allowed range), so a value set in a notebook and
one set on the command line go through the same checks.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def _f(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field with help text and optional `min`, `max` or `choices` checks."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **checks})
    return field(default=default, metadata={"help": help, **checks})


@dataclass
class RunSettings:
    name: str = _f("tiny", "Preset name, recorded in the manifest.")
    seed: int = _f(0, "Global seed for tasks, sampling and training.", min=0)
    device: str = _f("auto", "Where models run: auto picks cuda when present.", choices=["auto", "cpu", "cuda"])
    requires_gpu: bool = _f(False, "Refuse to start without a CUDA GPU (the GPU presets set this).")


@dataclass
class ModelSettings:
    policy: str = _f("embedded:smollm2-135m", "Policy model spec: embedded:<name>, a local folder or a hub id.")
    dtype: str = _f("float32", "Weights and compute dtype.", choices=["auto", "float32", "bfloat16", "float16"])
    load_in_4bit: bool = _f(False, "Load linear layers in 4-bit NF4 (bitsandbytes, QLoRA).")
    lora_r: int = _f(16, "LoRA rank (0 trains all weights).", min=0, max=1024)
    lora_alpha: int = _f(32, "LoRA scaling numerator.", min=1)
    lora_dropout: float = _f(0.0, "Dropout on the LoRA input.", min=0.0, max=0.9)
    lora_targets: str = _f("all-linear", "Modules that get LoRA adapters (peft target_modules).")
    lora_layers: int = _f(0, "LoRA adapters on the last k decoder layers only (0: every layer). Fewer layers make "
                             "backward stop early, which is what makes CPU training affordable.", min=0)
    nf4_kernels: str = _f("auto", "Fused NF4 kernels: auto turns them on for CUDA only.", choices=["auto", "on", "off"])
    max_seq_len: int = _f(1024, "Longest prompt + response, in tokens.", min=64)
    gradient_checkpointing: bool = _f(False, "Recompute activations in backward to save memory.")
    chat_template: str = _f("auto", "How prompts are rendered: 'tokenizer' (the model's own chat template), 'eurus' "
                                    "(the [INST] template of the released Eurus-7B-SFT, for base models) or 'auto' "
                                    "(the model's own when it has one, else eurus).",
                            choices=["auto", "tokenizer", "eurus"])


@dataclass
class TasksSettings:
    families: list[str] = _f(["math", "code", "logic"], "Task families to generate.", choices=["math", "code", "logic"])
    n_train: int = _f(72, "Training problems per run, spread over the families.", min=1)
    n_heldout: int = _f(36, "Held-out problems (8-gram decontaminated against training).", min=0)
    difficulty: int = _f(2, "1 = one-step problems ... 5 = long multi-step problems.", min=1, max=5)
    humaneval_heldout: int = _f(0, "HumanEval problems added to the held-out code set (0..164).", min=0, max=164)


@dataclass
class TreesSettings:
    actors: list[str] = _f(["embedded:smollm2-135m"], "Actor model specs, weakest first, kept apart from the policy "
                           "(the paper grew trees with strong instruct models and trained a base model). "
                           "'openai:<base url>#<model>' samples from an OpenAI-compatible endpoint.")
    critic: str = _f("rule", "Critique: 'rule', 'model:<spec>' or 'openai:<base url>#<model>'.")
    critic_max_new_tokens: int = _f(128, "Longest critique a model critic may write.", min=16)
    max_turns: int = _f(5, "Deepest turn of a tree (the paper uses 5).", min=1, max=10)
    samples_per_turn: int = _f(4, "Actions sampled per actor per turn (the paper samples 20).", min=1)
    annotate_samples: int = _f(1, "Actions the strongest actor writes from the ground-truth solution when "
                                  "sampling found no correct one (0: go straight to the ground-truth action).", min=0)
    temperature: float = _f(0.8, "Actor sampling temperature.", min=0.0, max=2.0)
    top_p: float = _f(0.95, "Actor nucleus sampling.", min=0.05, max=1.0)
    max_new_tokens: int = _f(192, "Longest action the actor may write.", min=16)
    batch_size: int = _f(16, "Prompts sampled together in one generate call.", min=1)
    live_trees: int = _f(64, "Trees grown side by side: each turn samples all their prompts together.", min=1)
    max_trees: int = _f(0, "Grow trees for at most this many training problems (0: all of them).", min=0)
    cot_share: float = _f(0.5, "Share of actions asked for plain chain of thought (the rest: modular code).",
                          min=0.0, max=1.0)
    syntax_check: bool = _f(True, "Never pick an action whose code fails a Python syntax check as the "
                                  "rejected one (paper App. A.2: no surface shortcuts).")
    observation_chars: int = _f(400, "Interpreter output kept in an observation (the tail is kept).", min=40)
    sandbox_timeout_s: float = _f(5.0, "Wall-clock limit for one action's code.", min=0.1)
    sandbox_memory_mb: int = _f(512, "Address-space limit for one action's code.", min=64)


@dataclass
class SFTSettings:
    data: str = _f("trees", "SFT rows: 'trees' (this run's trees/sft.jsonl) or the released UltraInteract_sft "
                            "(a hub id such as openbmb/UltraInteract_sft, or a local .json/.jsonl/.parquet file).")
    families: list[str] = _f([], "Train on rows of these task families only (empty: all).",
                             choices=["math", "code", "logic"])
    max_rows: int = _f(0, "Use at most this many distinct SFT rows (0: all).", min=0)
    general_mix: str = _f("none", "General-chat rows mixed in (paper: UltraChat + ShareGPT + OpenOrca): 'none', "
                                  "'local' (the small offline mix in data/chat/) or 'hub' (the paper's sources).",
                          choices=["none", "local", "hub"])
    general_rows: int = _f(0, "How many general-chat rows to mix in.", min=0)
    lr: float = _f(2e-5, "Peak learning rate (paper: 2e-5).", min=0.0)
    epochs: float = _f(1.0, "Passes over the SFT rows (paper: 1).", min=0.0)
    warmup_ratio: float = _f(0.1, "Warm-up share of the steps (paper: 0.1).", min=0.0, max=1.0)
    scheduler: str = _f("cosine", "Learning-rate schedule (paper: cosine).", choices=["cosine", "linear", "constant"])
    batch_size: int = _f(4, "Rows per device per step.", min=1)
    grad_accum: int = _f(1, "Steps accumulated before an optimizer update.", min=1)
    max_steps: int = _f(-1, "Stop after this many updates (-1: run the epochs).", min=-1)
    save_steps: int = _f(25, "Write a checkpoint every this many updates; a killed stage resumes from the last one.",
                         min=1)


@dataclass
class PrefsSettings:
    algorithms: list[str] = _f(["dpo", "kto", "nca"], "Preference algorithms to train and compare, each from the "
                               "SFT policy with the same pairs, seed and budget.", choices=["dpo", "kto", "nca"])
    max_pairs: int = _f(0, "Train on at most this many pairs (0: all usable pairs of trees/pairs.jsonl).", min=0)
    beta: float = _f(0.1, "KL strength for DPO, KTO and NCA (paper: 0.1); a reward is beta * log(pi / pi_ref).",
                     min=0.0)
    lr: float = _f(5e-7, "Peak learning rate (paper: 5e-7).", min=0.0)
    epochs: float = _f(1.0, "Passes over the pairs (paper: 1).", min=0.0)
    warmup_ratio: float = _f(0.1, "Warm-up share of the steps (paper: 0.1).", min=0.0, max=1.0)
    scheduler: str = _f("cosine", "Learning-rate schedule (paper: cosine).", choices=["cosine", "linear", "constant"])
    kto_desirable_weight: float = _f(1.33, "KTO lambda_D / lambda_U, with lambda_U = 1 (paper: 1.33).", min=0.0)
    batch_size: int = _f(4, "Pairs per device per step (KTO gets both sides of the same pairs: twice as many "
                            "rows). KTO needs at least 2, so its KL estimate pairs a prompt with another "
                            "pair's completion.", min=1)
    grad_accum: int = _f(1, "Steps accumulated before an optimizer update.", min=1)
    max_steps: int = _f(-1, "Stop after this many updates (-1: run the epochs).", min=-1)
    save_steps: int = _f(25, "Write a checkpoint every this many updates; a killed stage resumes from the last one.",
                         min=1)
    ref_batch_size: int = _f(8, "Pairs per forward pass when the reference log-probs are computed (once, shared "
                                "by all algorithms).", min=1)
    lora_layers: int = _f(-1, "Fresh LoRA adapters on the top k decoder layers for preference training (-1: as "
                              "model.lora_layers; 0: every layer). The SFT adapter is merged into the weights first, "
                              "so k is free of the SFT stage's; with model.load_in_4bit the SFT adapter itself trains "
                              "on and this is not used.", min=-1)


@dataclass
class RmSettings:
    objectives: list[str] = _f(["bt+dr", "bt", "dr"], "Reward-model objectives to train and compare, each from the SFT "
                               "model with the same pairs, seed and budget: bt+dr is Eurus-RM (L_BT + L_DR, paper "
                               "section 3), bt and dr its Table 4 ablations w/o L_DR and w/o L_BT.",
                               choices=["bt+dr", "bt", "dr"])
    data: str = _f("trees", "UltraInteract pairs: 'trees' (this run's trees/pairs.jsonl) or the released "
                            "UltraInteract_pair (a hub id such as openbmb/UltraInteract_pair, or a local "
                            ".json/.jsonl/.parquet file).")
    use_augmented_pairs: bool = _f(True, "Add the cross-turn N x N single-turn pairs of paper App. B "
                                         "(trees/rm_pairs.jsonl, or built from the released pairs).")
    max_pairs: int = _f(0, "Train on at most this many UltraInteract pairs, trajectory and augmented (0: all).", min=0)
    ultrafeedback_pairs: int = _f(0, "openbmb/UltraFeedback pairs added, trained with L_BT only (paper: 340K; needs "
                                     "the network, so 0 offline).", min=0)
    ultrasafety_pairs: int = _f(0, "openbmb/UltraSafety pairs added, one per instruction, L_BT only (paper: ~3K; "
                                   "needs the network, so 0 offline).", min=0)
    max_length: int = _f(1024, "Skip (and count) a pair whose chosen or rejected conversation is longer, in tokens.",
                         min=16)
    lora_layers: int = _f(0, "LoRA on the reward model's last k decoder layers only (0: as model.lora_layers); the "
                             "head always trains fully.", min=0)
    lr: float = _f(1e-5, "Peak learning rate (paper: 1e-5).", min=0.0)
    epochs: float = _f(1.0, "Passes over the pairs (paper: 1).", min=0.0)
    warmup_ratio: float = _f(0.1, "Warm-up share of the steps (paper: 0.1).", min=0.0, max=1.0)
    scheduler: str = _f("cosine", "Learning-rate schedule (paper: cosine).", choices=["cosine", "linear", "constant"])
    batch_size: int = _f(4, "Pairs per device per step.", min=1)
    grad_accum: int = _f(1, "Steps accumulated before an optimizer update.", min=1)
    max_steps: int = _f(-1, "Stop after this many updates (-1: run the epochs).", min=-1)
    save_steps: int = _f(25, "Write a checkpoint every this many updates; a killed stage resumes from the last one.",
                         min=1)
    score_batch_size: int = _f(16, "Answers scored together when the held-out pairs are rewarded, and prompts "
                                   "per pass when the shared trunk's states are computed.", min=1)


@dataclass
class EvalSettings:
    max_problems: int = _f(36, "Held-out problems scored per policy (pass@1, greedy; families interleaved).", min=1)
    temperature: float = _f(0.0, "Decoding temperature for pass@1 (paper: greedy).", min=0.0, max=2.0)
    max_new_tokens: int = _f(192, "Longest answer per problem.", min=16)
    batch_size: int = _f(16, "Problems answered together in one generate call.", min=1)
    best_of_n: list[int] = _f([1, 2, 4, 8, 16], "N values for the best-of-N reranking curve (paper: 2-16).", min=1)
    bon_problems: int = _f(36, "Held-out problems the SFT policy samples N answers for.", min=0)
    bon_temperature: float = _f(0.8, "Sampling temperature of the N answers (the paper does not say).",
                                min=0.0, max=2.0)
    bon_top_p: float = _f(0.95, "Nucleus sampling of the N answers.", min=0.05, max=1.0)
    multiturn_policies: list[str] = _f(["sft", "dpo", "kto", "nca"], "Policies in the multi-turn (MINT analog) "
                                       "evaluation.", choices=["base", "sft", "dpo", "kto", "nca"])
    multiturn_problems: int = _f(36, "Held-out problems in the multi-turn evaluation.", min=0)
    max_turns: int = _f(5, "Turns of interaction in the multi-turn evaluation (MINT: 5).", min=1, max=10)
    benchmarks: list[str] = _f([], "Public benchmarks scored through `datasets` when online (gsm8k, math, mbpp, "
                                   "humaneval, ...); empty on tiny, which is offline.")


@dataclass
class KitConfig:
    run: RunSettings = field(default_factory=RunSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    tasks: TasksSettings = field(default_factory=TasksSettings)
    trees: TreesSettings = field(default_factory=TreesSettings)
    sft: SFTSettings = field(default_factory=SFTSettings)
    prefs: PrefsSettings = field(default_factory=PrefsSettings)
    rm: RmSettings = field(default_factory=RmSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = [f.name for f in dataclasses.fields(KitConfig)]
_SECTION_TYPES = typing.get_type_hints(KitConfig)
_SECTION_HINTS = {name: typing.get_type_hints(cls) for name, cls in _SECTION_TYPES.items()}


def list_presets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(preset: str | Path = "tiny", overrides: list[str] | None = None) -> KitConfig:
    """Build a config from a preset name (or YAML path) plus `section.key=value` overrides."""
    cfg = KitConfig()
    for section, values in _read_preset(preset).items():
        for key, value in (values or {}).items():
            set_value(cfg, f"{section}.{key}", value)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"Override '{item}' is not of the form section.key=value (e.g. sft.lr=1e-4).")
        set_value(cfg, key.strip(), raw.strip(), from_text=True)
    return cfg


def config_from_dict(data: dict) -> KitConfig:
    """Rebuild a config from `KitConfig.to_dict()` output (e.g. a run folder's config.yaml)."""
    cfg = KitConfig()
    for section, values in data.items():
        for key, value in (values or {}).items():
            set_value(cfg, f"{section}.{key}", value)
    return cfg


def _read_preset(preset: str | Path) -> dict:
    path = Path(preset)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIG_DIR / f"{preset}.yaml"
    if not path.is_file():
        raise ConfigError(f"Unknown preset '{preset}'. Choose one of: {', '.join(list_presets())}, or give a .yaml path.")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"Preset file {path} must be a mapping of sections to settings.")
    parent = data.pop("extends", None)
    if parent:
        merged = _read_preset(parent)
        for section, values in data.items():
            merged.setdefault(section, {}).update(values or {})
        return merged
    return data


def section_class(section: str) -> type:
    """The dataclass behind a config section, with a clear error for unknown names."""
    if section not in SECTIONS:
        raise ConfigError(f"Unknown config section '{section}'. Sections: {', '.join(SECTIONS)}.")
    return _SECTION_TYPES[section]


def field_info(section: str, key: str) -> dataclasses.Field:
    """The dataclass field behind `section.key`, with a clear error for unknown names."""
    fields = {f.name: f for f in dataclasses.fields(section_class(section))}
    if key not in fields:
        raise ConfigError(f"Unknown key '{section}.{key}'. Keys in '{section}': {', '.join(fields)}.")
    return fields[key]


def set_value(cfg: KitConfig, dotted: str, value: Any, from_text: bool = False) -> None:
    """Set `section.key` on cfg after checking the value's type and range.

    With `from_text`, value is the raw text of a CLI override or a widget: it is parsed as YAML
    for numbers, booleans and lists, and kept verbatim for strings (so `off` stays "off").
    List fields are checked item by item: each item gets the item type, range and choices.
    """
    section, _, key = dotted.partition(".")
    if not key:
        raise ConfigError(f"Key '{dotted}' needs a section, e.g. sft.{dotted}. Sections: {', '.join(SECTIONS)}.")
    f = field_info(section, key)
    kind, item_kind = _field_types(section, f)
    if from_text and kind is list and isinstance(value, str) and not value.lstrip().startswith("["):
        value = [v.strip() for v in value.split(",") if v.strip()]  # a,b,c on the command line
        value = [_parse_text(dotted, v) if item_kind is not str else v for v in value]
    elif from_text and kind is not str:
        value = _parse_text(dotted, value)
    setattr(getattr(cfg, section), key, _check(dotted, f, kind, item_kind, value))


def _parse_text(dotted: str, value: str) -> Any:
    try:
        return yaml.safe_load(value) if value else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"{dotted}={value!r} is not a valid value ({exc.problem}).") from exc


def _check(name: str, f: dataclasses.Field, kind: type, item_kind: type | None, value: Any) -> Any:
    if kind is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a list (YAML list or comma-separated), not {value!r}.")
        return [_check_one(f"{name}[{i}]", f, item_kind or str, v) for i, v in enumerate(value)]
    return _check_one(name, f, kind, value)


def _check_one(name: str, f: dataclasses.Field, kind: type, value: Any) -> Any:
    value = _coerce(name, kind, value)
    meta = f.metadata
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of: {', '.join(map(str, meta['choices']))}.")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{name}={value!r} is below its minimum {meta['min']}.")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{name}={value!r} is above its maximum {meta['max']}.")
    return value


def _field_types(section: str, f: dataclasses.Field) -> tuple[type, type | None]:
    """(kind, item kind): (float, None) for `float`, (list, int) for `list[int]`."""
    hint = _SECTION_HINTS[section][f.name]
    kind = typing.get_origin(hint) or hint
    args = typing.get_args(hint)
    return kind, (args[0] if kind is list and args else None)


def _coerce(name: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be true or false, not {value!r}.")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be a whole number, not {value!r}.")
    if kind is float:
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as text
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{name} must be a number, not {value!r}.")
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be text; YAML read {value!r} (quote words like 'off' or 'yes' in YAML files).")
    if isinstance(value, (dict, list)):
        raise ConfigError(f"{name} must be a single value, not {value!r}.")
    return str(value)


def describe(cfg: KitConfig) -> str:
    """The resolved config as YAML, for the CLI and the run folder."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
