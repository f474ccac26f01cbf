"""Evaluation (paper sections 4-5): held-out pass@1, best-of-N reranking, multi-turn success.

    from eurus_lib.eval import accuracy_table, answer_tasks, judge
    records = judge(heldout, answer_tasks(model, tok, heldout, max_new_tokens=192), environment)
    accuracy_table(records)          # per family and "all": n, correct, accuracy, 95% Wilson interval

Modules, in the order an evaluation runs:
- `heldout`: greedy answers to the UltraInteract instruction and the trees' judge (`Environment.assess`);
  accuracy tables with intervals and the Table 3 analog (`compare_policies`, `comparison_markdown`).
- `intervals`: the Wilson score interval.
- `scoring`: batched log p(response | prompt) and reward-model scores, padding-invariant.
- `sampling`: N samples per prompt from one prefill (a shared KV cache), with mean token log-probs.
- `bestofn`: selectors (random, top log-prob, self-consistency, reward model) and the Figure 4 curve.
- `multiturn`: the MINT analog, up to 5 turns with the trees' feedback and critic.
- `benchmarks`: the paper's benchmarks (GSM8K, MATH, MBPP, HumanEval, ...) as the kit's Task rows.
Figures for all of them are in `eurus_lib.plots.eval`. Models, environment and critic are
injected, so every function runs on fakes in the tests and on the real tiny model.
"""

from .benchmarks import BENCHMARKS, benchmark_tasks, load_benchmark
from .bestofn import (
    best_of_n_curve,
    pick_by_reward,
    pick_random,
    pick_self_consistency,
    pick_top_logprob,
    standard_selectors,
)
from .heldout import accuracy_table, answer_tasks, compare_policies, comparison_markdown, judge, judge_samples
from .intervals import wilson_interval
from .multiturn import greedy_actor, interact, success_by_turn, success_table
from .sampling import sample_n
from .scoring import reward_scores, sequence_logprobs

__all__ = ["BENCHMARKS", "accuracy_table", "answer_tasks", "benchmark_tasks", "best_of_n_curve", "compare_policies", "comparison_markdown",
           "greedy_actor", "interact", "judge", "judge_samples", "load_benchmark", "pick_by_reward", "pick_random",
           "pick_self_consistency", "pick_top_logprob", "reward_scores", "sample_n", "sequence_logprobs",
           "standard_selectors", "success_by_turn", "success_table", "wilson_interval"]
