"""eurus-kit: the helper library behind the Eurus course notebooks (arXiv 2404.02078).

Stages, in the order data flows: tasks -> trees -> sft -> prefs -> rm -> eval -> report.
Run the whole tiny reproduction with `make reproduce`, or one stage with `eurus-kit <stage>`.
"""

__version__ = "0.1.0"
