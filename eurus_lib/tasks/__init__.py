"""Problems with ground truth for the preference trees: math, code and logic families."""

from .base import Task

__all__ = ["Task"]
