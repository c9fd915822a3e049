"""The ``bcl-rec`` command line."""

from __future__ import annotations

import argparse
import sys

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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataError, DatasetNotFoundError, MissingExtraError) as err:
        print(f"bcl-rec: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
