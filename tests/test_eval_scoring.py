"""Batched scoring on the real tiny model: the same numbers as one row at a time, whatever the padding."""

import pytest
import torch

from eurus_lib.errors import KitError
from eurus_lib.eval.scoring import encode_response, reward_scores, sequence_logprobs

PROMPTS = [[{"role": "user", "content": "What is 2 + 3?"}],
           [{"role": "user", "content": "Name a colour."}],
           [{"role": "user", "content": "Write a function that doubles x."},
            {"role": "assistant", "content": "def f(x): return x"},
            {"role": "user", "content": "Out: 3\nYour answer is wrong.\nIt must return twice x."}],
           [{"role": "user", "content": "Count to three."}]]
RESPONSES = ["5", "Blue, the colour of a clear sky at noon.", "def f(x):\n    return 2 * x", "1, 2, 3"]
FP32 = {"rel": 1e-4, "abs": 2e-3}  # padding changes matmul shapes, so sums differ in the last bits


@pytest.mark.slow
def test_batched_log_probs_equal_one_at_a_time_with_left_or_right_padding(tiny_policy):
    model, tok = tiny_policy
    alone = sequence_logprobs(model, tok, PROMPTS, RESPONSES, batch_size=1)
    assert sequence_logprobs(model, tok, PROMPTS, RESPONSES, batch_size=4) == pytest.approx(alone, **FP32)
    assert sequence_logprobs(model, tok, PROMPTS, RESPONSES, batch_size=3, padding_side="left") == \
        pytest.approx(alone, **FP32)
    assert all(v < 0 for v in alone)


@pytest.mark.slow
def test_only_the_response_tokens_are_scored(tiny_policy):
    model, tok = tiny_policy
    prompt_ids, response_ids = encode_response(tok, PROMPTS[1], RESPONSES[1])
    assert tok.decode(response_ids).startswith("Blue") and tok.decode(response_ids).endswith("<|im_end|>\n")
    ids = torch.tensor([prompt_ids + response_ids])
    with torch.inference_mode():
        logps = model(input_ids=ids).logits[0, :-1].log_softmax(-1).gather(-1, ids[0, 1:, None]).squeeze(-1)
    by_hand = logps[len(prompt_ids) - 1:].sum().item()  # the token at t is predicted at t - 1
    [total, mean] = [sequence_logprobs(model, tok, PROMPTS[1:2], RESPONSES[1:2], average=avg)[0] for avg in (0, 1)]
    assert total == pytest.approx(by_hand, rel=1e-5) and mean == pytest.approx(by_hand / len(response_ids), rel=1e-5)


@pytest.fixture(scope="module")
def tiny_reward_model(tiny_cfg):
    from eurus_lib.models import load_reward_model

    torch.manual_seed(0)  # the one-output head is freshly initialised
    return load_reward_model(tiny_cfg.model.policy, tiny_cfg.model)


@pytest.mark.slow
def test_rewards_read_the_last_token_whatever_the_batch_or_padding_side(tiny_reward_model):
    rm, tok = tiny_reward_model
    alone = reward_scores(rm, tok, PROMPTS, RESPONSES, batch_size=1)
    assert reward_scores(rm, tok, PROMPTS, RESPONSES, batch_size=4) == pytest.approx(alone, **FP32)
    assert reward_scores(rm, tok, PROMPTS, RESPONSES, batch_size=4, padding_side="left") == \
        pytest.approx(alone, **FP32)
    assert len(set(round(v, 4) for v in alone)) == 4  # four different answers, four different rewards
    full = tok.apply_chat_template(PROMPTS[0] + [{"role": "assistant", "content": RESPONSES[0]}], tokenize=False)
    ids = torch.tensor([tok(full, add_special_tokens=False)["input_ids"]])
    assert tok.decode(ids[0, -1]) == "\n"  # the template ends the turn with <|im_end|>\n, and "\n" is not pad
    with torch.inference_mode():
        hidden = rm.model(input_ids=ids).last_hidden_state
        by_hand = rm.score(hidden[0, -1]).item()
    assert alone[0] == pytest.approx(by_hand, rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_a_reward_model_without_the_tokenizers_pad_id_is_refused(tiny_reward_model):
    rm, tok = tiny_reward_model
    rm.config.pad_token_id, saved = None, rm.config.pad_token_id
    try:
        with pytest.raises(KitError, match="pad_token_id"):
            reward_scores(rm, tok, PROMPTS[:1], RESPONSES[:1])
    finally:
        rm.config.pad_token_id = saved


def test_snug_batches_go_longest_first_and_never_pad_a_row_below_the_slack():
    from eurus_lib.eval.padding import snug_batches

    lengths = [10, 100, 95, 40, 90, 12, 99, 11]
    groups = snug_batches(lengths, batch_size=3, slack=0.7)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert groups == [[1, 6, 2], [4], [3], [5, 7, 0]]
    for g in groups:
        assert len(g) <= 3 and all(lengths[i] >= 0.7 * lengths[g[0]] for i in g)
    assert snug_batches(lengths, batch_size=8, slack=0.0) == [[1, 6, 2, 4, 3, 5, 7, 0]]
