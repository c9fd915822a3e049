"""``bcl-rec sweep``: a grid or a seeded random search over a base config, one run per cell."""

from __future__ import annotations

import argparse
from pathlib import Path

from bcl_rec.errors import ConfigError


def _sweep(args: argparse.Namespace) -> int:
    from bcl_rec.training import sweep
    from bcl_rec.training.interrupt import RunInterrupted, stop_on_signals

    if args.random is not None and args.grid:
        raise ConfigError("use either --grid or --random with --space, not both")
    if args.space and args.random is None:
        raise ConfigError("--space needs --random N (the number of cells to draw)")
    seeds = sweep.parse_seeds(args.seeds)
    if args.random is not None:
        if args.random < 1:
            raise ConfigError(f"--random must be >= 1, got {args.random}")
        if not args.space:
            raise ConfigError("--random needs at least one --space KEY=SPEC")
        spaces = [sweep.parse_space(item) for item in args.space]
        cells = sweep.random_cells(spaces, args.random, args.search_seed)
        varied = [s.key for s in spaces]
    else:
        grid = sweep.parse_grid(args.grid)
        cells = sweep.grid_cells(grid)
        varied = [key for key, _ in grid]
    plan = sweep.plan_sweep(args.config, args.set, cells, seeds, varied)
    with stop_on_signals() as stop:
        try:
            summary = sweep.run_sweep(
                plan, args.out, args.data_dir, args.overwrite, log=_log, stop=stop
            )
        except RunInterrupted as err:
            _log("rerun the same command to continue the sweep")
            return err.exit_code
    if summary["runs"]:
        best = summary["runs"][0]
        print(f"best: cell {best['cell']} {best['folder']} valid {plan.metric} {best['valid']:.4f}")
    print(f"summary: {Path(args.out) / 'summary.md'}")
    return 0


def _log(line: str) -> None:
    print(line, flush=True)


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bcl-rec sweep``."""
    p = sub.add_parser(
        "sweep",
        help="train a grid or a random search of configs, one run folder per cell",
        description="Runs every cell in turn; finished cells are skipped on a rerun. Writes "
        "DIR/<cell>/ run folders, DIR/cells.json and DIR/summary.{json,md} (best first).",
    )
    p.add_argument("config", type=Path, help="base YAML run config")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of one key (YAML, as --set); the cells are the product of all --grid",
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override for every cell"
    )
    p.add_argument("--seeds", metavar="S1,S2", help="run every cell with each train.seed")
    p.add_argument("--random", type=int, metavar="N", help="random search: draw N cells")
    p.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="KEY=SPEC",
        help="random search range: log:LO:HI, LO:HI (uniform), int:LO:HI or a,b,c (choice)",
    )
    p.add_argument("--search-seed", type=int, default=0, help="seed of the random search (0)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="sweep folder")
    p.add_argument("--data-dir", type=Path, help="folder holding the dataset (or its parent)")
    p.add_argument(
        "--overwrite", action="store_true", help="rerun cells whose folder holds another config"
    )
    p.set_defaults(func=_sweep)
