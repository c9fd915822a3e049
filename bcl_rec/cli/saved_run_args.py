"""The options every command that reads a saved run folder shares."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_saved_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--run DIR`` (required), ``--json``, ``--data-dir`` and ``--device``."""
    parser.add_argument("--run", type=Path, required=True, metavar="DIR", help="run folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--data-dir", type=Path, help="folder holding the dataset (or its parent)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
