"""The reward model (paper sections 3 and 5, Table 4): Eurus-RM's L_BT + L_DR and its ablations.

    eurus-kit rm --preset tiny                          # trains bt+dr, bt and dr; scores held-out pairs

    from eurus_lib.rm import load_trained_reward_model
    rm, tok = load_trained_reward_model(run, "bt+dr", cfg, "cpu")     # for best-of-N reranking
    reward_scores(rm, tok, prompts, responses)                         # eurus_lib.eval.scoring

Modules, in the order the stage runs them:
- `data`: UltraInteract pairs (trajectory + augmented), tagged by source, tokenized as they are scored;
  bad pairs skipped and counted. `general`: UltraFeedback / UltraSafety converters (L_BT only).
- `model`: the SFT body with a new one-output head ("merge", "continue" for QLoRA, "full"); reloading.
- `train`: TRL's RewardTrainer with `losses.reward_model_loss` chosen per row by the source.
- `eurus_lib.trunk`: the frozen layers below the last `rm.lora_layers` computed once per sequence and shared by
  every objective (exact); `TrunkCache.scores` rewards answers under several reward models at once.
- `evaluate`: held-out pairs (ground-truth action vs a policy's wrong answer), scores, accuracy and signs.
- `report`: the report section and Table 4 analog; `stage`: the stage itself.
"""

from .model import load_trained_reward_model

__all__ = ["load_trained_reward_model"]
