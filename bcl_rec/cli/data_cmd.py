"""``bcl-rec data``: list the registry, describe a dataset, prepare (cache) its split, download it.

Every command that reads data takes a registered name or a path, plus the same options as a
config's ``data:`` section (``--config`` to take them from a run config, ``--set data.key=value``,
or the flags below, which win).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from bcl_rec.config import parse_override
from bcl_rec.data.config import PRESPLIT_POLICIES, DataConfig, data_config_from_mapping
from bcl_rec.errors import ConfigError

#: flag -> DataConfig key, for the flags that map one to one.
_FLAGS = {
    "format": "format",
    "user_col": "user_col",
    "item_col": "item_col",
    "rating_col": "rating_col",
    "time_col": "time_col",
    "sep": "sep",
    "header": "header",
    "encoding": "encoding",
    "time_format": "time_format",
    "min_rating": "min_rating",
    "user_core": "user_core",
    "item_core": "item_core",
    "split": "split",
    "order": "order",
    "train": "train_file",
    "valid": "valid_file",
    "test": "test_file",
    "presplit_policy": "presplit_policy",
    "seed": "seed",
}


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bcl-rec data ...`` on the top-level subparsers."""
    data = sub.add_parser("data", help="list, inspect, prepare and download datasets")
    commands = data.add_subparsers(dest="data_command", required=True)

    listing = commands.add_parser("list", help="registered datasets and where they are found")
    listing.add_argument("--data-dir", type=Path, help="folder holding datasets")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)

    info = commands.add_parser("info", help="users, items, interactions, density, quantiles")
    _add_data_options(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_info)

    prepare = commands.add_parser("prepare", help="read, filter, split and cache a dataset")
    _add_data_options(prepare)
    prepare.add_argument("--force", action="store_true", help="rebuild even when cached")
    prepare.add_argument("--json", action="store_true", help="print JSON")
    prepare.set_defaults(func=_prepare)

    download = commands.add_parser("download", help="download a registered dataset, verified")
    download.add_argument("dataset", help="registered dataset name")
    download.add_argument("--data-dir", type=Path, help="look here before downloading")
    download.add_argument(
        "--allow-unverified",
        action="store_true",
        help="download even when the registry has no checksum for it",
    )
    download.set_defaults(func=_download)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="registered dataset name, or a dataset folder or file")
    parser.add_argument("--config", type=Path, help="take the data: section of this run config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a data key, e.g. --set data.min_rating=4 (repeatable)")
    parser.add_argument("--data-dir", type=Path, help="folder holding the dataset (or its parent)")
    group = parser.add_argument_group("reading")
    group.add_argument("--format", help="reader (default: recognised from the files)")
    for role in ("user", "item", "rating", "time"):
        group.add_argument(f"--{role}-col", type=_column,
                           help=f"{role} column: header name, JSON key or 0-based position")
    group.add_argument("--sep", type=_separator, help="field separator (\\t, tab, ',', '::')")
    group.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                       help="whether the first line is a header (default: detected)")
    group.add_argument("--encoding", help="text encoding (default utf-8)")
    group.add_argument("--time-format", help="strftime pattern of text timestamps")
    group = parser.add_argument_group("filters")
    group.add_argument("--min-rating", type=float, help="keep ratings >= this")
    group.add_argument("--k-core", type=int, help="iterative k-core on users and items")
    group.add_argument("--user-core", type=int, help="k-core threshold for users")
    group.add_argument("--item-core", type=int, help="k-core threshold for items")
    group = parser.add_argument_group("split")
    group.add_argument("--split", choices=("auto", "leave-one-out", "ratio", "presplit"))
    group.add_argument("--ratios", type=_ratios, help="train,valid,test fractions (0.8,0.1,0.1)")
    group.add_argument("--order", choices=("auto", "time", "random"))
    group.add_argument("--train", help="pre-split train file")
    group.add_argument("--valid", help="pre-split validation file")
    group.add_argument("--test", help="pre-split test file")
    group.add_argument("--presplit-policy", choices=PRESPLIT_POLICIES)
    group.add_argument("--seed", type=int)
    group.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _column(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _separator(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "pipe": "|"}
    return named.get(text.lower(), text)


def _ratios(text: str) -> list[float]:
    try:
        return [float(x) for x in text.replace(" ", "").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1: {text!r}"
                                         ) from None


def data_config_from_args(args: argparse.Namespace) -> DataConfig:
    """The data config the flags describe: ``--config``'s data section, ``--set``, flags."""
    values: dict[str, Any] = {}
    if args.config is not None:
        if not args.config.is_file():
            raise ConfigError(f"config file not found: {args.config}")
        raw = yaml.safe_load(args.config.read_text()) or {}
        if not isinstance(raw, dict) or not isinstance(raw.get("data", {}) or {}, dict):
            raise ConfigError(f"{args.config}: expected a mapping with a data: section")
        values.update(raw.get("data") or {})
    for item in args.set:
        key, sep, value = item.partition("=")
        key = key.strip()
        key = key[len("data."):] if key.startswith("data.") else key
        if not sep or not key or "." in key:
            raise ConfigError(f"--set expects data.key=value, got {item!r}")
        values[key] = parse_override(DataConfig, key, value)
    if args.k_core is not None:
        values["user_core"] = values["item_core"] = args.k_core
    for flag, key in _FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            values[key] = value
    if args.ratios is not None:
        values["ratios"] = args.ratios
    if args.no_cache:
        values["cache"] = False
    values["name"] = args.dataset
    return data_config_from_mapping(values)


def _list(args: argparse.Namespace) -> int:
    from bcl_rec.data.errors import DatasetNotFoundError
    from bcl_rec.data.registry import locate, registry

    rows = []
    for name, info in sorted(registry().items()):
        try:
            where = str(locate(info, args.data_dir, download=False))
        except DatasetNotFoundError:
            where = "-"
        download = ("verified" if info.verified else "unverified") if (
            info.url or info.urls) else "manual"
        rows.append({
            "name": name, "format": info.format, "users": info.counts.get("users"),
            "items": info.counts.get("items"), "interactions": info.counts.get("interactions"),
            "download": download, "found": where, "title": info.title,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = f"{'name':<24} {'format':<15} {'users':>9} {'items':>9} {'interactions':>13}  " \
           f"{'download':<10} found"
    print(head)
    for r in rows:
        counts = [f"{r[k]:,}" if r[k] is not None else "?" for k in ("users", "items",
                                                                      "interactions")]
        print(f"{r['name']:<24} {r['format']:<15} {counts[0]:>9} {counts[1]:>9} "
              f"{counts[2]:>13}  {r['download']:<10} {r['found']}")
    return 0


def _source_lines(source) -> list[str]:
    config = source.config
    lines = [f"dataset       {source.label}", f"format        {source.format}"]
    for role, path in source.files.items():
        size = path.stat().st_size
        lines.append(f"{role + ' file':<14}{path} ({size:,} B)")
    if source.titles is not None:
        lines.append(f"titles        {source.titles}")
    filters = (f"min_rating={config.min_rating}, k-core users>={config.user_core} "
               f"items>={config.item_core}, duplicates: latest kept")
    lines.append(f"filters       {filters}")
    split = config.split
    if split == "ratio":
        split += f" {'/'.join(f'{r:g}' for r in config.ratios)}"
    order = {"auto": "by time when timestamped, else random", "time": "by time",
             "random": "random"}[config.order]
    lines.append(f"split         {split} (order {order}, seed {config.seed})")
    return lines


def _info(args: argparse.Namespace) -> int:
    from bcl_rec.data.load import read_source
    from bcl_rec.data.source import resolve_source
    from bcl_rec.data.stats import format_log_stats, log_stats

    source = resolve_source(data_config_from_args(args), args.data_dir)
    log = read_source(source)
    stats = log_stats(log)
    if args.json:
        print(json.dumps({"source": source.label, "format": source.format,
                          "files": {k: str(v) for k, v in source.files.items()},
                          "config": dataclasses.asdict(source.config), **stats}, indent=2))
        return 0
    print("\n".join(_source_lines(source) + format_log_stats(stats)))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from bcl_rec.data.load import prepare_split
    from bcl_rec.data.stats import format_split_stats, split_stats

    prepared = prepare_split(data_config_from_args(args), args.data_dir, force=args.force)
    stats = split_stats(prepared.split)
    record = {
        "source": prepared.source.label,
        "cache": None if prepared.cache_path is None else str(prepared.cache_path),
        "from_cache": prepared.from_cache,
        "seconds": round(prepared.seconds, 3),
        **stats,
    }
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    lines = _source_lines(prepared.source)
    lines.append(f"users         {stats['users']:,}")
    lines.append(f"items         {stats['items']:,}")
    lines += format_split_stats(stats)
    state = "loaded from cache" if prepared.from_cache else "built and cached"
    if prepared.cache_path is None:
        state = "built (cache off)"
    lines.append(f"cache         {record['cache']} ({state} in {prepared.seconds:.2f} s)")
    print("\n".join(lines))
    return 0


def _download(args: argparse.Namespace) -> int:
    from bcl_rec.data.registry import dataset_info, locate

    try:
        info = dataset_info(args.dataset)
    except KeyError as err:
        print(f"bcl-rec: error: {err.args[0]}", file=sys.stderr)
        return 2
    folder = locate(info, args.data_dir, allow_unverified=args.allow_unverified)
    print(folder)
    return 0
