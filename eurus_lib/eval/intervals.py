"""Confidence intervals for accuracies measured on a few dozen problems.

    >>> low, high = wilson_interval(5, 10)
    >>> round(low, 4), round(high, 4)
    (0.2366, 0.7634)

The Wilson score interval (Wilson 1927) keeps its coverage near 95% for small n and for
accuracies near 0 or 1, where the normal approximation p +- z*sqrt(p(1-p)/n) collapses to a
zero-width interval at 0/n or n/n. A held-out set of 12 problems per family on the tiny preset
is exactly that case, so a Table 3 analog without intervals would overstate every difference.
"""

from __future__ import annotations

import math


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """(low, high) of the Wilson score interval for k successes in n trials; (0, 1) when n is 0.

    centre = (p + z^2 / 2n) / (1 + z^2 / n),  half = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # It contains p in exact arithmetic; rounding can put the low end of 0/11 at +3e-17, which makes a
    # plot's error bar negative (matplotlib refuses those), so the bounds are clamped around p.
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))
