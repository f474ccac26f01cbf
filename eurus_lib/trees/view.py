"""A text view of one tree: every turn, every action, its observation and critique.

    print(render_tree(tree))                 # all actions, shortened
    print(render_tree(tree, full=True))      # whole texts

Used where widgets cannot render (the report, the terminal, an exported notebook) and by the
tree explorer for its per-turn panes. Correct actions are marked ✓, incorrect ones ✗; the
chosen action of a turn is marked "chosen", the expanded incorrect one "rejected".
"""

from __future__ import annotations

import textwrap

from .tree import Action, Tree, Turn


def render_tree(tree: Tree, *, full: bool = False, width: int = 100, max_lines: int = 6) -> str:
    """The whole tree as indented text."""
    head = (f"Tree {tree.hash[:10]} | {tree.task['task']} / {tree.task['dataset']} | depth {tree.depth} | "
            f"ended: {tree.end or 'growing'}")
    lines = [head, "Instruction:", _indent(_clip(tree.instruction, full, max_lines * 2), "  ", width)]
    for turn in tree.turns:
        lines += ["", render_turn(turn, full=full, width=width, max_lines=max_lines)]
    return "\n".join(lines)


def render_turn(turn: Turn, *, full: bool = False, width: int = 100, max_lines: int = 6) -> str:
    """One turn: its chosen and rejected actions first, then the others."""
    right = sum(a.correct for a in turn.actions)
    lines = [f"Turn {turn.turn}: {len(turn.actions)} actions, {right} correct"]
    order = [i for i in (turn.chosen, turn.rejected) if i is not None]
    order += [i for i in range(len(turn.actions)) if i not in order]
    for i in order:
        role = "chosen" if i == turn.chosen else "rejected" if i == turn.rejected else "other"
        lines.append(render_action(turn.actions[i], role, full=full, width=width, max_lines=max_lines))
    if turn.feedback:
        lines += ["  -> next user turn:", _indent(_clip(turn.feedback, full, max_lines), "     ", width)]
    return "\n".join(lines)


def render_action(action: Action, role: str = "", *, full: bool = False, width: int = 100,
                  max_lines: int = 6) -> str:
    mark = "✓" if action.correct else "✗"
    origin = "ground truth" if action.source == "ground_truth" else f"{action.actor}, {action.source}"
    head = f"  {mark} {role:<8} [{origin}, {action.schema}]" + (f" error: {action.error}" if action.error else "")
    lines = [head, _indent(_clip(action.text, full, max_lines), "      ", width)]
    if action.ran_code:
        lines.append(_indent("Out: " + _clip(action.observation, full, 3), "      ", width))
    if action.critique:
        lines.append(_indent("Critique: " + _clip(action.critique, full, 4), "      ", width))
    return "\n".join(lines)


def _clip(text: str, full: bool, max_lines: int) -> str:
    lines = (text or "").splitlines() or [""]
    if full or len(lines) <= max_lines:
        return "\n".join(lines)
    return "\n".join(lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines)"])


def _indent(text: str, prefix: str, width: int) -> str:
    out = []
    for line in text.splitlines() or [""]:
        out += textwrap.wrap(line, width - len(prefix), replace_whitespace=False, drop_whitespace=False) or [""]
    return "\n".join(prefix + line for line in out)
