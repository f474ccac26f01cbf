"""The reward trainer picks Eurus's loss per row: L_BT + L_DR on UltraInteract pairs, L_BT on general preference pairs."""

import pytest
import torch
import torch.nn.functional as F

from eurus_lib.losses import reward_model_loss
from eurus_lib.models import load_tokenizer
from eurus_lib.rm.train import trainer_classes

SOURCES = ["ultrainteract", "ultrafeedback", "ultrainteract_augmented", "ultrasafety"]


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("embedded:smollm2-135m")


@pytest.fixture(scope="module")
def tiny_rm(tok):
    """A randomly initialized one-layer Llama reward model over the real tokenizer's vocabulary."""
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, num_labels=1, pad_token_id=tok.pad_token_id)
    return LlamaForSequenceClassification(config).eval()


def _rows():
    g = torch.Generator().manual_seed(1)
    rows = []
    for i, source in enumerate(SOURCES):
        chosen = torch.randint(10, 1000, (5 + i,), generator=g).tolist()
        rejected = torch.randint(10, 1000, (8 - i,), generator=g).tolist()
        rows.append({"chosen_ids": chosen, "rejected_ids": rejected, "dr": "ultrainteract" in source,
                     "source": source, "length": max(len(chosen), len(rejected))})
    return rows


def _trainer(objective, model, tok, tmp_path):
    from datasets import Dataset
    from trl import RewardConfig

    trainer_cls, collator_cls = trainer_classes()
    args = RewardConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, remove_unused_columns=False,
                        max_length=64)
    return trainer_cls(model=model, args=args, train_dataset=Dataset.from_list(_rows()), processing_class=tok,
                       data_collator=collator_cls(pad_token_id=tok.pad_token_id), objective=objective)


@pytest.mark.parametrize("objective", ["bt+dr", "dr", "bt"])
def test_mixed_batch_gets_bt_plus_dr_on_ultrainteract_rows_and_bt_on_the_others(objective, tiny_rm, tok, tmp_path):
    trainer = _trainer(objective, tiny_rm, tok, tmp_path)
    batch = trainer.data_collator(_rows())
    assert batch["dr_rows"].tolist() == [True, False, True, False]
    with torch.no_grad():
        rewards = tiny_rm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
        loss = trainer.compute_loss(tiny_rm, dict(batch))
    c, r = rewards[:4], rewards[4:]  # TRL's collator: the chosen rows, then the rejected rows
    bt = -F.logsigmoid(c - r)
    dr = -F.logsigmoid(c) - F.logsigmoid(-r)
    ui = torch.tensor([True, False, True, False])
    by_hand = {"bt+dr": torch.where(ui, bt + dr, bt), "dr": torch.where(ui, dr, bt), "bt": bt}[objective].mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert loss.item() == pytest.approx(reward_model_loss(c, r, objective, ui).item(), rel=1e-6)
    if objective != "bt":  # the mask matters: the same objective on every row is another number
        assert loss.item() != pytest.approx(reward_model_loss(c, r, objective).item(), rel=1e-4)


def test_every_step_logs_mean_rewards_margin_accuracy_and_the_dr_share(tiny_rm, tok, tmp_path):
    trainer = _trainer("bt+dr", tiny_rm, tok, tmp_path)
    batch = trainer.data_collator(_rows())
    with torch.no_grad():
        rewards = tiny_rm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
        trainer.compute_loss(tiny_rm, dict(batch))
    c, r = rewards[:4], rewards[4:]
    logged = {k: v[-1] for k, v in trainer._metrics["eval"].items()}  # the model is in eval mode here
    assert logged["rewards/chosen"] == pytest.approx(c.mean().item(), rel=1e-5)
    assert logged["rewards/rejected"] == pytest.approx(r.mean().item(), rel=1e-5)
    assert logged["rewards/margins"] == pytest.approx((c - r).mean().item(), rel=1e-5, abs=1e-7)
    assert logged["rewards/accuracies"] == pytest.approx((c > r).float().mean().item())
    assert logged["dr_share"] == 0.5
