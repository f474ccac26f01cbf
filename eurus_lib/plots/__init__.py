"""One plotting helper per figure kind, shared by the notebooks, the CLI stages and the report.

Each helper takes plain data (rows, dicts, arrays), draws on a given or new matplotlib Axes,
and returns the Figure, so a notebook shows it and a stage saves it with `save_figure`.
"""

from __future__ import annotations

from pathlib import Path


def save_figure(fig, path: str | Path, dpi: int = 130) -> Path:
    """Save a figure as PNG (creating folders) and close it so long runs do not pile up figures."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
