"""The ``bcl-rec`` command line."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from bcl_rec import __version__
from bcl_rec.cli.data_cmd import add_data_parser
from bcl_rec.cli.evaluate_cmd import add_evaluate_parser
from bcl_rec.cli.recbole_cmd import add_parser as add_recbole_parser
from bcl_rec.cli.recommend_cmd import add_recommend_parser
from bcl_rec.cli.report_cmd import add_report_parser
from bcl_rec.cli.sweep_cmd import add_sweep_parser
from bcl_rec.cli.train_cmd import add_train_parser
from bcl_rec.cli.weights_cmd import add_weights_parser
from bcl_rec.config import ConfigError
from bcl_rec.data.errors import DataError, DatasetNotFoundError
from bcl_rec.errors import key_of
from bcl_rec.reporting.extras import MissingExtraError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bcl-rec",
        description="Train and evaluate implicit-feedback recommenders with debiased losses.",
    )
    parser.add_argument("--version", action="version", version=f"bcl-rec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    add_train_parser(sub)
    add_recbole_parser(sub)
    add_data_parser(sub)
    add_evaluate_parser(sub)
    add_recommend_parser(sub)
    add_sweep_parser(sub)
    add_report_parser(sub)
    add_weights_parser(sub)
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
        except (
            ConfigError, DataError, DatasetNotFoundError, MissingExtraError, OSError, MemoryError
        ) as err:
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
