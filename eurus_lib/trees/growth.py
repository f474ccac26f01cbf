"""Grow preference trees as in the paper (section 2.3, App. A.2), many trees side by side.

    trees = grow_trees(tasks, actors=[actor], environment=env, critic=RuleCritic(), settings=cfg.trees)

Per turn of a tree:
1. sample `samples_per_turn` actions from the first actor, each under a planning schema drawn at
   random (`cot_share`), and judge them in the environment;
2. no correct action? sample again from the next, stronger actor (weakest first, as the paper
   moves from cheaper models to GPT-4 Turbo); then let the strongest actor annotate the
   ground-truth solution (`annotate_samples`); then build the ground-truth action itself;
3. pick one correct action (chosen) and one incorrect action (rejected) at random, from
   different actors when possible; with `syntax_check` an action whose code does not compile is
   never the rejected one (App. A.2);
4. the chosen action ends its trajectory; the rejected one is expanded: the critic writes a
   critique and "Out: ...\\nYour answer is wrong.\\n<critique>" becomes the next user turn.
A tree stops when a turn has no usable incorrect action (nothing to expand) or at `max_turns`.

Batching: every turn, the prompts of all live trees (up to `live_trees`) go to the actor in one
call, and every action's code to the executor in one call. A tree is handed to `on_tree` as
soon as it is finished, which is what makes the stage resumable (`store.py`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..progress import progress_bar
from .critic import CritiqueRequest
from .prompts import annotation_guide, ground_truth_action, guide
from .tree import Action, Tree, Turn, feedback_message, tree_hash

GROUND_TRUTH = "ground_truth"


@dataclass
class _Live:
    """A tree being grown, with the outcomes of the current turn's actions (for the critic)."""

    tree: Tree
    task: object
    rng: random.Random
    current: Turn | None = None
    outcomes: list = field(default_factory=list)

    def has_correct(self) -> bool:
        return any(a.correct for a in self.current.actions)


def grow_trees(tasks: Sequence, *, actors: Sequence, environment, critic, settings, seed: int = 0,
               on_tree: Callable[[Tree], None] | None = None, instruction: Callable | None = None,
               progress: bool = True) -> list[Tree]:
    """Grow one tree per task; returns them in the order they finished (see the module docstring)."""
    if instruction is None:
        from ..tasks.prompts import ultrainteract_instruction as instruction
    queue, live, done = list(tasks), [], []
    with progress_bar(len(queue), "trees", unit="tree", enabled=progress) as bar:
        step = 0
        while queue or live:
            while queue and len(live) < settings.live_trees:
                live.append(_start(queue.pop(0), instruction, seed))
            bar.set_postfix_str(f"growing {len(live)} trees, step {step + 1}")
            grow_turn(live, actors=actors, environment=environment, critic=critic, settings=settings,
                      seed=seed + 1000 * step)
            for st in [s for s in live if s.tree.end]:
                live.remove(st)
                done.append(st.tree)
                if on_tree is not None:
                    on_tree(st.tree)
                bar.update(1)
            step += 1
    return done


def grow_turn(live: list[_Live], *, actors: Sequence, environment, critic, settings, seed: int = 0) -> None:
    """Add one turn to every live tree (steps 1-4 of the module docstring)."""
    for st in live:
        st.current, st.outcomes = Turn(turn=st.tree.depth + 1), []
    need = live
    for r, actor in enumerate(actors):
        need = [st for st in need if not st.has_correct()]
        _sample(need, actor, "sampled", settings.samples_per_turn, environment, settings, seed + r)
    need = [st for st in live if not st.has_correct()]
    if settings.annotate_samples:
        _sample(need, actors[-1], "annotated", settings.annotate_samples, environment, settings, seed + 500)
    need = [st for st in live if not st.has_correct()]
    _ground_truth(need, environment, settings)
    for st in live:
        st.current.chosen, st.current.rejected = select_pair(st.current.actions, st.rng, settings.syntax_check)
    _expand([st for st in live if _expands(st.current, settings.max_turns)], critic)
    for st in live:
        st.tree.turns.append(st.current)
        st.tree.end = _end(st.current, settings.max_turns)


def select_pair(actions: Sequence[Action], rng: random.Random, syntax_check: bool = True) -> tuple:
    """(chosen, rejected) indices for one turn; either may be None.

    The rejected action is a random incorrect, non-empty one (whose code compiles, with `syntax_check`);
    the chosen one a random correct one, from another actor than the rejected when there is one.
    """
    incorrect = [i for i, a in enumerate(actions)
                 if not a.correct and a.text.strip() and (a.syntax_ok or not syntax_check)]
    correct = [i for i, a in enumerate(actions) if a.correct]
    rejected = rng.choice(incorrect) if incorrect else None
    if rejected is not None:
        other = [i for i in correct if actions[i].actor != actions[rejected].actor]
        correct = other or correct
    chosen = rng.choice(correct) if correct else None
    return chosen, rejected


def pick_schema(task, rng: random.Random, cot_share: float) -> str:
    """The planning schema of one action; Math_CoT has no interpreter, so it is always chain of thought."""
    if task.task == "Math_CoT":
        return "cot"
    return "cot" if rng.random() < cot_share else "modular"


def _start(task, instruction: Callable, seed: int) -> _Live:
    tree = Tree(hash=tree_hash(task.id), parent_id=task.id, task=task.to_dict(), instruction=instruction(task))
    return _Live(tree, task, random.Random(f"{seed}:{tree.hash}"))


def _sample(states: list[_Live], actor, kind: str, n: int, environment, settings, seed: int) -> None:
    owners, conversations = [], []
    for st in states:
        for _ in range(n):
            schema = pick_schema(st.task, st.rng, settings.cot_share)
            system = guide(st.task.task, schema) if kind == "sampled" else annotation_guide(st.task, schema)
            conversations.append([{"role": "system", "content": system}] + st.tree.history())
            owners.append((st, schema))
    texts = actor.sample(conversations, seed=seed) if conversations else []
    _record(owners, texts, environment, actor.name, kind)


def _ground_truth(states: list[_Live], environment, settings) -> None:
    owners = [(st, pick_schema(st.task, st.rng, settings.cot_share)) for st in states]
    texts = [ground_truth_action(st.task, schema) for st, schema in owners]
    _record(owners, texts, environment, GROUND_TRUTH, "ground_truth")


def _record(owners: list, texts: list[str], environment, actor: str, source: str) -> None:
    texts = [(t or "").strip() for t in texts]
    outcomes = environment.assess([st.task for st, _ in owners], texts) if owners else []
    for (st, schema), text, oc in zip(owners, texts, outcomes, strict=True):
        st.current.actions.append(Action(text=text, schema=schema, actor=actor, source=source, correct=oc.correct,
                                         observation=oc.observation, ran_code=oc.ran_code, error=oc.error,
                                         predicted=oc.predicted, syntax_ok=oc.error != "syntax"))
        st.outcomes.append(oc)


def _expand(states: list[_Live], critic) -> None:
    requests = [CritiqueRequest(st.task, st.current.rejected_action.text, st.outcomes[st.current.rejected])
                for st in states]
    for st, critique in zip(states, critic.critique_many(requests) if requests else [], strict=True):
        rejected = st.current.rejected_action
        rejected.critique = critique
        st.current.feedback = feedback_message(rejected.observation, rejected.ran_code, critique)


def _expands(turn: Turn, max_turns: int) -> bool:
    return turn.chosen is not None and turn.rejected is not None and turn.turn < max_turns


def _end(turn: Turn, max_turns: int) -> str:
    if turn.chosen is None and turn.rejected is not None:
        return "no_correct"
    if turn.rejected is None:
        return "no_incorrect"
    return "max_turns" if turn.turn >= max_turns else ""
