"""Which process may write shared files when a stage runs under `accelerate launch` on several GPUs.

    if is_main_process():
        run.save_manifest()

Training stages run on every process (the trainers split the batches), but the manifest, the
report, metrics files and figures are written once, by the main process. The rank comes from the
environment that torchrun / accelerate set (RANK), so this works before torch.distributed is
initialised and costs nothing in a single process.
"""

from __future__ import annotations

import os


def process_index() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return process_index() == 0


def wait_for_everyone() -> None:
    """A barrier across processes when torch.distributed is running; nothing otherwise."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
