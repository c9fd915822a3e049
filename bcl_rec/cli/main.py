"""The ``bcl-rec`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from bcl_rec import __version__
from bcl_rec.cli.data_cmd import add_data_parser
from bcl_rec.cli.evaluate_cmd import add_evaluate_parser
from bcl_rec.cli.recbole_cmd import add_parser as add_recbole_parser
from bcl_rec.cli.recommend_cmd import add_recommend_parser
from bcl_rec.config import ConfigError, config_location, load_config
from bcl_rec.data.errors import DataError, DatasetNotFoundError
from bcl_rec.errors import key_of


def _train(args: argparse.Namespace) -> int:
    from bcl_rec.training.run import train_run, write_run

    config = load_config(args.config, args.set)
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{Path(str(config.data.name)).name}-{config.model.name}-{config.loss.name}"
        args.out = Path("runs") / f"{name}-{stamp}"
    try:
        run = train_run(config, data_dir=args.data_dir)
    except ConfigError as err:  # found after loading (device, data size): say where it was set
        raise err.located(config_location(err.key, args.config, args.set)) from None
    result = write_run(run, args.out)
    metrics = json.loads((result / "metrics.json").read_text())
    test = {k: round(v, 4) for k, v in sorted(metrics["test"].items())}
    print(json.dumps({"out": str(result), "test": test}, indent=2))
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; every expected failure is one ``bcl-rec: error:`` line, exit 2.

    Project errors (config, data, run folder), missing files, OS errors and running out of
    memory never show a traceback; warnings print as one ``bcl-rec: warning:`` line each.
    ``bcl-rec recommend ... | head`` (stdout closed early) exits quietly.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            code = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, inside the handler
            return code
        except BrokenPipeError:
            _silence_stdout()
            return 0
        except (ConfigError, DataError, DatasetNotFoundError, OSError, MemoryError) as err:
            print(f"bcl-rec: error: {_one_line(err)}", file=sys.stderr)
            return 2
        except ValueError as err:
            if key_of(str(err)) is None:  # not about a config key: a bug, keep the traceback
                raise
            print(f"bcl-rec: error: {_one_line(err)}", file=sys.stderr)
            return 2


def _one_line(err: BaseException) -> str:
    if isinstance(err, MemoryError):
        return "out of memory; lower train.batch_size, model.dim or eval.max_memory_mb"
    if isinstance(err, OSError) and err.filename is not None and not isinstance(
        err, DatasetNotFoundError
    ):
        return f"{err.filename}: {err.strerror or err}"
    return " ".join(str(err).split()) or type(err).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    try:
        print(f"bcl-rec: warning: {text}", file=sys.stderr)
    except OSError:
        pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's exit-time flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
