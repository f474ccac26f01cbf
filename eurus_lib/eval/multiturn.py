"""Multi-turn evaluation, the paper's MINT analog (section 4, Table 3's MINT columns).

    from eurus_lib.eval.multiturn import greedy_actor, interact, success_by_turn
    from eurus_lib.trees import Environment, RuleCritic, sandbox_executor

    env = Environment(sandbox_executor(timeout_s=5, memory_mb=512))
    records = interact(greedy_actor(model, tok, max_new_tokens=192), heldout, env, RuleCritic(), max_turns=5)
    success_by_turn(records, max_turns=5)     # [0.25, 0.31, 0.33, 0.36, 0.36]: solved by turn 1..5

The policy answers the UltraInteract instruction; the environment runs and judges the answer
exactly as in the trees stage; a wrong answer gets the trees' feedback turn ("Out: ...\\nYour
answer is wrong.\\n<critique>", `trees.tree.feedback_message`) from the critic, which knows the
ground truth, and the policy tries again with the whole history. A correct answer ends the
problem. Every turn, all unsolved problems go to the actor in one batched call and to the
executor in one call. MINT (Wang et al. 2024) gives up to 5 turns and reports the success rate at
turn 5; turn 1 here is held-out pass@1 (the same prompt, greedy decoding and judge as heldout.py).
MINT's own critic is GPT-4 and its tasks are MATH/TheoremQA/MMLU-math and code; ours are the
held-out tasks and the rule critic (or a model critic, injected), which the report says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..progress import progress_bar
from ..trees.critic import CritiqueRequest, RuleCritic
from ..trees.tree import feedback_message
from .heldout import conversation


def greedy_actor(model, tokenizer, *, max_new_tokens: int = 192, batch_size: int = 16, name: str = "policy"):
    """The trees' ModelActor with temperature 0: the policy answers greedily, batched."""
    from ..trees.actor import ModelActor

    return ModelActor(name, model, tokenizer, temperature=0.0, max_new_tokens=max_new_tokens, batch_size=batch_size)


def interact(actor, tasks: Sequence, environment, critic=None, *, max_turns: int = 5, seed: int = 0,
             progress: bool = True, first_answers: Sequence[str | None] | None = None,
             adapters: Sequence[str] | None = None) -> list[dict]:
    """Up to `max_turns` attempts per task; one record per task, in order.

    first_answers: the policy's greedy held-out answers to these tasks, when a stage already has
    them: turn 1 is the same prompt and the same greedy decode, so they are judged as turn 1
    instead of being generated again (a None entry is generated).
    adapters: per task, the LoRA adapter of the actor's model that answers it, passed to
    `actor.sample(..., adapter_names=...)`; `interact_policies` uses it to run several policies'
    interactions as one.

    Record: {"id", "family", "task", "solved_turn" (1-based, or None), "turns": [{"turn", "response",
    "correct", "error", "predicted", "feedback"}]} where "feedback" is the user turn that followed
    (None after the last attempt).
    """
    critic = critic or RuleCritic()
    records = [{"id": t.id, "family": t.family, "task": t.task, "solved_turn": None, "turns": []} for t in tasks]
    histories = [conversation(t) for t in tasks]
    with progress_bar(max_turns, "multi-turn", "turn", progress) as bar:
        for turn in range(1, max_turns + 1):
            live = [i for i, r in enumerate(records) if r["solved_turn"] is None]
            if not live:
                break
            bar.set_postfix_str(f"{len(live)} unsolved")
            given = first_answers if turn == 1 and first_answers is not None else [None] * len(tasks)
            ask = [i for i in live if given[i] is None]
            route = {} if adapters is None else {"adapter_names": [adapters[i] for i in ask]}
            replies = dict(zip(ask, actor.sample([histories[i] for i in ask], seed=seed + turn, **route)
                               if ask else [], strict=True))
            texts = [(given[i] if given[i] is not None else replies[i] or "").strip() for i in live]
            outcomes = environment.assess([tasks[i] for i in live], texts)
            feedback = _feedback([tasks[i] for i in live], texts, outcomes, critic) if turn < max_turns \
                else [None] * len(live)
            for i, text, outcome, fb in zip(live, texts, outcomes, feedback, strict=True):
                _record_turn(records[i], histories[i], turn, text, outcome, fb)
            bar.update(1)
    return records


def interact_policies(actor, policies: Mapping[str, str], tasks: Sequence, environment, critic=None, *,
                      first_answers: Mapping[str, Sequence[str] | None] | None = None, **options) -> dict[str, list[dict]]:
    """Several policies' interactions as one: {policy: records}, each as `interact` would return it alone.

    actor: a ModelActor over a peft model that holds every policy as an adapter (or "__base__");
    policies: {policy name: its adapter name} (`policies.load_policy_group`), or {name: None} for
    one policy that is the actor's model itself. Every turn, all
    policies' unsolved problems are answered in one batched decode, so the policies share each
    step's pass over the base weights. With a few problems per policy, a CPU decode step of 32
    rows costs much less than four of 8 (benchmarks/bench_multiturn.py).
    """
    names = list(policies)
    flat_tasks = [t for _ in names for t in tasks]
    given = [(first_answers or {}).get(name) for name in names]
    flat_given = [None if g is None else g[k] for g in given for k in range(len(tasks))]
    routed = any(policies[name] is not None for name in names)
    records = interact(actor, flat_tasks, environment, critic, first_answers=flat_given,
                       adapters=[policies[name] for name in names for _ in tasks] if routed else None, **options)
    return {name: records[p * len(tasks):(p + 1) * len(tasks)] for p, name in enumerate(names)}


def _feedback(tasks, texts, outcomes, critic) -> list[str | None]:
    """The trees' feedback turn for each wrong answer (one batched critic call), None for right ones."""
    wrong = [k for k, o in enumerate(outcomes) if not o.correct]
    critiques = critic.critique_many([CritiqueRequest(tasks[k], texts[k], outcomes[k]) for k in wrong]) if wrong else []
    out: list[str | None] = [None] * len(outcomes)
    for k, critique in zip(wrong, critiques, strict=True):
        out[k] = feedback_message(outcomes[k].observation, outcomes[k].ran_code, critique)
    return out


def _record_turn(record: dict, history: list[dict], turn: int, text: str, outcome, feedback: str | None) -> None:
    record["turns"].append({"turn": turn, "response": text, "correct": bool(outcome.correct),
                            "error": outcome.error, "predicted": outcome.predicted, "feedback": feedback})
    if outcome.correct:
        record["solved_turn"] = turn
    elif feedback is not None:
        history += [{"role": "assistant", "content": text}, {"role": "user", "content": feedback}]


def success_by_turn(records: Sequence[dict], max_turns: int = 5, family: str | None = None) -> list[float]:
    """Share of problems solved by turn 1, 2, ..., max_turns (cumulative); optionally one family only."""
    chosen = [r for r in records if family is None or r["family"] == family]
    if not chosen:
        return [0.0] * max_turns
    return [sum(r["solved_turn"] is not None and r["solved_turn"] <= t for r in chosen) / len(chosen)
            for t in range(1, max_turns + 1)]


def success_table(records_by_policy: Mapping[str, Sequence[dict]], max_turns: int = 5) -> str:
    """Markdown: success rate (%) by turn for each policy, MINT's turn-5 number in the last column."""
    lines = ["| policy | " + " | ".join(f"turn {t}" for t in range(1, max_turns + 1)) + " |",
             "|---|" + "---|" * max_turns]
    for name, records in records_by_policy.items():
        rates = success_by_turn(records, max_turns)
        lines.append(f"| {name} (n={len(records)}) | " + " | ".join(f"{100 * r:.1f}" for r in rates) + " |")
    return "\n".join(lines)
