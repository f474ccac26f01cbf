"""The `eurus-kit` command: run the reproduction, one stage, or look at presets.

    eurus-kit reproduce                       # every stage on the tiny preset, into runs/tiny
    eurus-kit trees --preset tiny trees.max_turns=3
    eurus-kit sft --run-dir runs/tiny sft.lr=1e-4
    eurus-kit report --run-dir runs/tiny
    eurus-kit config --preset gpu-7b-qlora    # print the resolved config
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import KitError
from .stages import STAGES, get_stage


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eurus-kit", description="Eurus (arXiv 2404.02078) reproduction kit.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    _add(sub, "reproduce", "Run every built stage in order, execute the notebooks, write the report.",
         notebooks=True)
    for stage in STAGES:
        _add(sub, stage.name, f"Run the {stage.title.lower()} stage alone.")
    _add(sub, "report", "Write the report of a run folder from what its stages left there.")
    _add(sub, "config", "Print the resolved config of a preset plus overrides, then exit.")
    sub.add_parser("presets", help="List the presets in configs/.")
    return parser


def _add(sub, name: str, help: str, notebooks: bool = False) -> None:
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("--preset", default="tiny", help="Preset name from configs/ or a YAML path (default: tiny).")
    p.add_argument("--run-dir", default=None, help="Run folder (default: runs/<preset>).")
    p.add_argument("--force", action="store_true", help="Redo stages that already finished with this config.")
    if notebooks:
        p.add_argument("--no-notebooks", action="store_true", help="Skip executing and exporting the notebooks.")
        p.add_argument("--figures-dir", default=None, help="Also copy the run's figures into this folder.")
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="Config overrides, e.g. sft.lr=1e-4 trees.max_turns=3.")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KitError as exc:
        print(f"eurus-kit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eurus-kit: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    from .config import describe, list_presets, load_config

    if args.command == "presets":
        print("\n".join(list_presets()))
        return 0
    cfg = load_config(args.preset, args.overrides)
    if args.command == "config":
        print(describe(cfg), end="")
        return 0
    from .hardware import pick_device
    from .runs import RunDir

    run_dir = Path(args.run_dir or f"runs/{cfg.run.name}")
    if args.command == "report":
        from .report import write_report

        write_report(RunDir.existing(run_dir))
        return 0
    pick_device(cfg)  # a GPU preset on a CPU machine stops here, before any folder is written
    run = RunDir.open(run_dir, cfg)
    from . import pipeline

    if args.command == "reproduce":
        pipeline.reproduce(cfg, run, force=args.force, notebooks=not args.no_notebooks,
                           figures_dir=Path(args.figures_dir) if args.figures_dir else None)
    else:
        stage = get_stage(args.command)
        if not stage.is_built():
            raise KitError(f"The '{stage.name}' stage is not built yet in this version of the kit.")
        pipeline.run_stage(stage, cfg, run, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
