"""One progress bar for every long step of the kit (tqdm.auto: a widget in notebooks, text in a terminal).

    with progress_bar(total=len(rows), desc="scoring", unit="row") as bar:
        for batch in batches:
            ...
            bar.update(len(batch))

`enabled=False` (or a total of 0) gives a bar that does nothing, so callers never branch on it.
"""

from __future__ import annotations


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str = "it", enabled: bool = True):
    """A tqdm.auto bar, or a silent stand-in when disabled or there is nothing to count."""
    if not enabled or not total:
        return _Silent()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)
