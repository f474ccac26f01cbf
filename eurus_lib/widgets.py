"""ipywidgets bound to config fields, so a notebook tweaks the same values the CLI overrides.

    editor = config_editor(cfg, "sft", keys=["lr", "batch_size"])
    display(editor)            # change a value in the notebook: cfg.sft.lr follows

Every change goes through `config.set_value`, the same check as `section.key=value` on the
command line; a rejected value shows its error under the widgets and leaves the config as it was.
"""

from __future__ import annotations

import dataclasses

from .config import KitConfig, field_info, set_value
from .errors import ConfigError


def config_editor(cfg: KitConfig, section: str, keys: list[str] | None = None):
    """A VBox of one widget per field of `cfg.<section>` (or just `keys`), live-bound to cfg."""
    import ipywidgets as w

    names = keys or [f.name for f in dataclasses.fields(getattr(cfg, section))]
    status = w.HTML("")
    rows = [_field_widget(cfg, section, name, status) for name in names]
    return w.VBox([w.HTML(f"<b>{section}</b>"), *rows, status])


def _field_widget(cfg: KitConfig, section: str, key: str, status):
    f = field_info(section, key)
    value = getattr(getattr(cfg, section), key)
    widget = _make_widget(f, value)
    widget.description = key
    widget.tooltip = f.metadata.get("help", "")
    widget.style = {"description_width": "12em"}

    def on_change(change):
        raw = change["new"]
        try:
            set_value(cfg, f"{section}.{key}", _from_widget(f, raw), from_text=isinstance(raw, str))
            status.value = f"<span style='color:#2a7'>{section}.{key} = {getattr(getattr(cfg, section), key)!r}</span>"
        except ConfigError as exc:
            status.value = f"<span style='color:#c33'>{exc}</span>"

    widget.observe(on_change, names="value")
    return widget


def _make_widget(f: dataclasses.Field, value):
    import ipywidgets as w

    meta = f.metadata
    if "choices" in meta and isinstance(value, list):  # e.g. prefs.algorithms: pick any of the choices
        return w.SelectMultiple(options=list(meta["choices"]), value=tuple(value), rows=len(meta["choices"]))
    if "choices" in meta:
        return w.Dropdown(options=list(meta["choices"]), value=value)
    if isinstance(value, bool):
        return w.Checkbox(value=value, indent=False)
    if isinstance(value, int) and "min" in meta and "max" in meta:
        return w.IntSlider(value=value, min=meta["min"], max=meta["max"])
    if isinstance(value, int):
        return w.IntText(value=value)
    if isinstance(value, float) and "min" in meta and "max" in meta and meta["max"] <= 10:
        return w.FloatSlider(value=value, min=meta["min"], max=meta["max"], step=(meta["max"] - meta["min"]) / 100)
    if isinstance(value, float):
        return w.Text(value=f"{value:g}")  # learning rates span decades: typed text reads best
    if isinstance(value, list):
        return w.Text(value=", ".join(map(str, value)))
    return w.Text(value=str(value))


def _from_widget(f: dataclasses.Field, raw):
    if isinstance(raw, tuple):  # SelectMultiple
        return list(raw)
    if isinstance(raw, str) and str(f.type).startswith("list"):
        return f"[{raw}]" if raw.strip() else "[]"
    return raw
