"""The tree explorer: pick a problem, step through its turns, see every action at a glance.

    from eurus_lib.trees.explorer import tree_explorer
    tree_explorer(trees)          # in a notebook: a dropdown, a turn slider and the turn's actions

Each action is a card: green border when correct, red when incorrect, with badges for its role
(chosen / rejected / not picked), where it came from (actor and sampled, annotated or ground
truth) and its planning schema, then its text, the interpreter output and the critique. Below the
cards, the user turn that the rejected action was answered with. `turn_html` builds the same
HTML without widgets, and `view.render_tree` gives the plain-text view for places where
widgets do not render (an exported notebook, the report).
"""

from __future__ import annotations

import html

from .tree import Action, Tree

GREEN, RED, GREY = "#2e8b57", "#c0392b", "#7f8c8d"


def turn_html(tree: Tree, turn_number: int) -> str:
    """HTML for one turn of a tree: problem header, the action cards, the next user turn."""
    turn = tree.turns[turn_number - 1]
    order = [i for i in (turn.chosen, turn.rejected) if i is not None]
    order += [i for i in range(len(turn.actions)) if i not in order]
    roles = {turn.chosen: "chosen", turn.rejected: "rejected"}
    cards = "".join(action_card(turn.actions[i], roles.get(i, "not picked")) for i in order)
    head = (f"<div style='font-size:90%;color:{GREY}'>{_e(tree.task['task'])} · {_e(tree.task['dataset'])} · "
            f"tree {tree.hash[:10]} · depth {tree.depth} · ended: {_e(tree.end)} · turn {turn_number} of "
            f"{tree.depth} · {sum(a.correct for a in turn.actions)} of {len(turn.actions)} actions correct</div>")
    messages = tree.history(turn_number)
    history = (f"<details><summary><b>Conversation before this turn</b>: {len(messages)} messages (click to open)"
               f"</summary>{''.join(_message(m) for m in messages)}</details>")
    after = _message({"role": "user", "content": turn.feedback}) if turn.feedback else \
        f"<p style='color:{GREY}'>Not expanded: the tree ends at this turn ({_e(tree.end)}).</p>"
    return (f"{head}{history}"
            f"<div style='display:flex;flex-wrap:wrap;gap:8px'>{cards}</div><b>Next user turn</b>{after}")


def action_card(action: Action, role: str) -> str:
    color = GREEN if action.correct else RED
    mark = "✓ correct" if action.correct else "✗ incorrect"
    origin = "ground truth" if action.source == "ground_truth" else f"{action.actor} · {action.source}"
    badges = " ".join(_badge(b, c) for b, c in ((mark, color), (role, GREY if role == "not picked" else color),
                                                 (origin, GREY), (action.schema, GREY)) if b)
    parts = [badges, f"<pre style='white-space:pre-wrap;font-size:85%'>{_e(action.text)}</pre>"]
    if action.ran_code:
        parts.append(f"<div><b>Out:</b> <code>{_e(action.observation)}</code></div>")
    if action.error:
        parts.append(f"<div style='color:{GREY}'>error: {_e(action.error)}</div>")
    if action.critique:
        parts.append(f"<div><b>Critique:</b> {_e(action.critique)}</div>")
    return (f"<div style='border:3px solid {color};border-radius:6px;padding:6px;width:46%;"
            f"opacity:{1.0 if role != 'not picked' else 0.75}'>{''.join(parts)}</div>")


def tree_explorer(trees: list[Tree]):
    """An ipywidgets explorer over `trees` (see the module docstring); returns the widget."""
    import ipywidgets as w

    if not trees:
        return w.HTML("No trees to explore yet.")
    labels = [(f"{k + 1}. {t.task['task']} · depth {t.depth} · {t.end} · {t.task['prompt'][:50]}…", k)
              for k, t in enumerate(trees)]
    pick = w.Dropdown(options=labels, value=0, description="Problem", layout=w.Layout(width="95%"))
    turn = w.IntSlider(min=1, max=trees[0].depth, value=1, description="Turn", continuous_update=False)
    body = w.HTML()

    def show(*_):
        tree = trees[pick.value]
        turn.max = tree.depth
        turn.value = min(turn.value, tree.depth)
        body.value = turn_html(tree, turn.value)

    pick.observe(show, "value")
    turn.observe(show, "value")
    show()
    return w.VBox([pick, turn, body])


def _badge(text: str, color: str) -> str:
    return f"<span style='background:{color};color:white;border-radius:4px;padding:1px 6px;font-size:80%'>{_e(text)}</span>"


def _message(m: dict) -> str:
    who = "user" if m["role"] == "user" else "assistant"
    return (f"<div style='margin:4px 0'><b>{who}:</b><pre style='white-space:pre-wrap;font-size:85%;"
            f"background:#f6f6f6;padding:4px'>{_e(m['content'])}</pre></div>")


def _e(text) -> str:
    return html.escape(str(text or ""))
