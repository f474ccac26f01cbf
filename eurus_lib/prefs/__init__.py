"""Preference learning (paper sections 3 and 6.1): DPO, KTO and NCA from the SFT policy, compared.

The stage is `eurus_lib.prefs.stage` (`eurus-kit prefs`); the notebook is 03_preference_learning.
"""
