"""The ``bcl-rec`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bcl_rec import __version__
from bcl_rec.cli.data_cmd import add_data_parser
from bcl_rec.cli.evaluate_cmd import add_evaluate_parser
from bcl_rec.cli.recbole_cmd import add_parser as add_recbole_parser
from bcl_rec.cli.recommend_cmd import add_recommend_parser
from bcl_rec.cli.sweep_cmd import add_sweep_parser
from bcl_rec.config import ConfigError, load_config
from bcl_rec.data.errors import DataError, DatasetNotFoundError


def _train(args: argparse.Namespace) -> int:
    from bcl_rec.training.distributed import is_main_process, shutdown
    from bcl_rec.training.run import train_run, write_run

    config = load_config(args.config, args.set)
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{Path(str(config.data.name)).name}-{config.model.name}-{config.loss.name}"
        args.out = Path("runs") / f"{name}-{stamp}"
    try:
        result = train_run(config, data_dir=args.data_dir)
        out = write_run(result, args.out)
        main_rank = is_main_process()
    finally:
        shutdown()  # under torchrun: leave the process group
    if main_rank:
        test = {k: round(v, 4) for k, v in sorted(result.metrics["test"].items())}
        print(json.dumps({"out": str(out), "test": test}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bcl-rec",
        description="Train and evaluate implicit-feedback recommenders with debiased losses.",
    )
    parser.add_argument("--version", action="version", version=f"bcl-rec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model from a config and test it")
    train.add_argument("--config", type=Path, help="YAML run config (default: MF + BCL on ml-100k)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set loss.alpha=0.8 (repeatable)",
    )
    train.add_argument("--data-dir", type=Path, help="folder holding the dataset (or its parent)")
    train.add_argument("--out", type=Path, help="run folder (default: runs/<name>-<time>)")
    train.set_defaults(func=_train)
    add_recbole_parser(sub)
    add_data_parser(sub)
    add_evaluate_parser(sub)
    add_recommend_parser(sub)
    add_sweep_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataError, DatasetNotFoundError) as err:
        print(f"bcl-rec: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
