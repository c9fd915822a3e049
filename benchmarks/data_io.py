"""Data I/O benchmark: read + split MovieLens-100K and a synthetic ml-25m-sized ratings.csv.

Two measurements per dataset, each in a fresh Python process: the first read (parse, filter,
leave-one-out split, write the cache) and the cached read (what a second training run pays).
Peak memory is the child's ``ru_maxrss``. The parent stays small (it imports only the standard
library and generates the synthetic file in a subprocess too), because Linux carries a process's
high-water mark into the program it execs; the child's ``VmHWM`` is reported as a cross-check.

The synthetic file has the ml-25m layout (``ratings.csv`` with header
``userId,movieId,rating,timestamp`` plus ``movies.csv``): up to 162,541 users and 59,047 movies,
skewed user activity and movie popularity, no repeated (user, movie) pair.

    python benchmarks/data_io.py [--rows 25000000] [--json results/data_io.json]
        [--markdown results/data_io.md] [--workdir DIR] [--ml100k PATH]

Targets (25M rows): cached reload under 5 s, peak memory under 3 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ML25M_USERS = 162_541
ML25M_ITEMS = 59_047
TARGET_SECONDS = 5.0
TARGET_MB = 3 * 1024


def synthetic_ratings(folder: Path, rows: int, seed: int = 0) -> Path:
    """Write ``folder/ratings.csv`` (and ``movies.csv``) in the ml-25m layout; return the folder."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_users = min(ML25M_USERS, max(1, rows // 40))
    n_items = min(ML25M_ITEMS, max(2, rows // 20))
    popularity = 1.0 / (np.arange(n_items) + 10.0) ** 0.9
    popularity /= popularity.sum()
    item_of_rank = rng.permutation(n_items) + 1
    keys = np.zeros(0, dtype=np.int64)
    while len(keys) < rows:
        need = int((rows - len(keys)) * 1.15) + 1000
        activity = rng.lognormal(0.0, 1.2, n_users)
        users = rng.choice(n_users, size=need, p=activity / activity.sum()).astype(np.int64)
        ranks = rng.choice(n_items, size=need, p=popularity)
        items = item_of_rank[ranks].astype(np.int64)
        keys = np.unique(np.concatenate((keys, users * (ML25M_ITEMS + 1) + items)))
    keys = np.sort(rng.choice(keys, size=rows, replace=False))
    users, items = keys // (ML25M_ITEMS + 1) + 1, keys % (ML25M_ITEMS + 1)
    stars = rng.choice(np.arange(1, 11) / 2, size=rows,
                       p=[0.016, 0.032, 0.018, 0.066, 0.052, 0.196, 0.125, 0.266, 0.088, 0.141])
    stamps = rng.integers(789_652_009, 1_574_327_703, size=rows)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "ratings.csv"
    tmp = folder / ".ratings.csv.tmp"
    with open(tmp, "w", newline="") as out:
        out.write("userId,movieId,rating,timestamp\n")
        step = 2_000_000
        for start in range(0, rows, step):
            chunk = slice(start, start + step)
            pd.DataFrame({"u": users[chunk], "i": items[chunk], "r": stars[chunk],
                          "t": stamps[chunk]}).to_csv(out, header=False, index=False,
                                                       float_format="%.1f")
    os.replace(tmp, target)
    movies = pd.DataFrame({"movieId": np.arange(1, ML25M_ITEMS + 1)})
    movies["title"] = [f"Movie {k}, The ({1900 + k % 120})" for k in movies["movieId"]]
    movies["genres"] = "Drama"
    movies.to_csv(folder / "movies.csv", index=False)
    return folder


def child(data: str, cache: str) -> None:
    """One measurement: prepare the leave-one-out split of ``data`` with cache root ``cache``."""
    from bcl_rec.data.config import DataConfig
    from bcl_rec.data.load import prepare_split

    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    prepared = prepare_split(DataConfig(name=data, split="leave-one-out"), cache_root=cache)
    seconds = time.perf_counter() - start
    split = prepared.split
    print(json.dumps({
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vm_hwm_mb": _vm_hwm_mb(),
        "import_mb": base_mb,
        "from_cache": prepared.from_cache,
        "users": split.n_users,
        "items": split.n_items,
        "train": int(split.train.nnz),
        "valid": int(split.valid.nnz),
        "test": int(split.test.nnz),
    }))


def _vm_hwm_mb() -> float | None:
    """Peak resident memory of this process image (Linux ``VmHWM``), or None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def measure(data: Path, cache: Path) -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(data), "--cache", str(cache)],
        check=True, capture_output=True, text=True,
    )
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["process_seconds"] = time.perf_counter() - start
    return row


def markdown(rows: list[dict]) -> str:
    lines = [
        "| data | rows | read | wall (s) | process (s) | peak RSS (MB) | VmHWM (MB) "
        "| after imports (MB) | users | items | train / valid / test |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['rows']:,} | {'cached' if r['from_cache'] else 'first'} "
            f"| {r['seconds']:.2f} | {r['process_seconds']:.2f} | {r['peak_mb']:,.0f} "
            f"| {r['vm_hwm_mb'] or 0:,.0f} | {r['import_mb']:,.0f} | {r['users']:,} "
            f"| {r['items']:,} "
            f"| {r['train']:,} / {r['valid']:,} / {r['test']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000_000, help="synthetic ratings rows")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument("--markdown", type=Path, help="write the Markdown table here")
    parser.add_argument("--workdir", type=Path, help="keep the synthetic data here (reused)")
    parser.add_argument("--ml100k", type=Path, help="ml-100k folder (default $BCL_REC_DATA)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.cache)
        return 0
    if args.generate:
        synthetic_ratings(args.generate, args.rows)
        return 0

    ml100k = args.ml100k or Path(os.environ.get("BCL_REC_DATA", "../shared/datasets")) / "ml-100k"
    scratch = Path(tempfile.mkdtemp(prefix="bcl-data-io-"))
    workdir = args.workdir or scratch
    try:
        synthetic = workdir / f"ml-25m-synthetic-{args.rows}"
        if not (synthetic / "ratings.csv").is_file():
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--generate", str(synthetic), "--rows",
                            str(args.rows)], check=True)
            print(f"generated {synthetic / 'ratings.csv'} "
                  f"({(synthetic / 'ratings.csv').stat().st_size / 1e6:,.0f} MB) "
                  f"in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        rows = []
        for label, folder, n in (("ml-100k", ml100k, 100_000),
                                 ("synthetic ml-25m layout", synthetic, args.rows)):
            cache = scratch / f"cache-{len(rows)}"
            for _ in ("first", "cached"):
                row = {"data": label, "rows": n, **measure(folder, cache)}
                rows.append(row)
                print(f"{label}: {'cached' if row['from_cache'] else 'first'} read "
                      f"{row['seconds']:.2f} s, peak {row['peak_mb']:,.0f} MB", file=sys.stderr)
        big = [r for r in rows if r["rows"] == args.rows]
        cached = next(r for r in big if r["from_cache"])
        verdict = {
            "cached_reload_s": cached["seconds"],
            "cached_reload_under_5s": cached["seconds"] < TARGET_SECONDS,
            "peak_mb_max": max(r["peak_mb"] for r in big),
            "peak_under_3gb": max(r["peak_mb"] for r in big) < TARGET_MB,
        }
        record = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
            "rows": rows,
            "targets": verdict,
        }
        table = markdown(rows)
        print(table)
        print(f"\ntargets ({args.rows:,} rows): cached reload {cached['seconds']:.2f} s "
              f"(< {TARGET_SECONDS:g} s: {verdict['cached_reload_under_5s']}), peak "
              f"{verdict['peak_mb_max']:,.0f} MB (< 3 GB: {verdict['peak_under_3gb']})")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(record, indent=2) + "\n")
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(table + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
