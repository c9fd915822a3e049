"""Equal-budget tuning of the loss family, then a paired-seed test of each loss's pick.

The protocol (docs/results.md, "The equal-budget protocol"):

1. **Tune.** Every loss gets the same number of ``bcl-rec sweep`` cells (``CELLS``) over its own
   parameters, trained with seed 1 on the same recipe (backbone, dimension, batch, N, epochs,
   patience). The cell with the best *validation* NDCG@10 is that loss's pick; test metrics play
   no part in it.
2. **Test.** The pick is trained again with seeds 2..5 (seed 1 is the tuning run itself), so
   every loss is measured on the same 5 paired seeds.
3. **Collect.** ``results/fair/<plan>.json`` holds one row per (loss, seed) in the result-file
   format ``bcl-rec report`` reads, and ``results/fair/<plan>-tuning.json`` every tuning cell
   with its validation metric and the seconds it took (the compute budget, per loss). Rows
   already in those files whose run folders are not under ``--out`` (runs made on another
   machine) are kept, and a line names them; a run folder replaces its recorded row.
4. **Configs.** Each pick is written as ``configs/<dataset>/tuned/<stem>.yaml``.

    python benchmarks/fair_tuning.py ml-100k-mf tune test collect configs --jobs 2 --out runs/fair
    python benchmarks/readme_tables.py         # the tables of README.md and docs/results.md
    bcl-rec report results/fair/ml-100k-mf.json --baseline sl --out docs/reports/fair-ml-100k-mf

Sweeps run ``--jobs`` at a time (one thread each); a rerun skips finished cells.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from bcl_rec.config import apply_overrides, load_config
from bcl_rec.training.sweep import grid_cells, parse_grid

ROOT = Path(__file__).resolve().parent.parent
CELLS = 4
TUNE_SEED = 1
TEST_SEEDS = (2, 3, 4, 5)
METRICS = ("ndcg@10", "recall@10", "ndcg@20", "recall@20")

# the recipe every cell of a plan shares: early stopping on validation NDCG@10, patience 10
COMMON = ["train.patience=10", "train.epochs=150", "eval.metric=ndcg@10"]
# the SL recipe (spec 8): cosine scores, 256 uniform unlabeled items per positive
SL_RECIPE = [
    "model.score=cosine",
    "loss.num_negatives=256",
    "train.lr=0.001",
    "train.weight_decay=0",
]


class LossPlan(NamedTuple):
    """A loss in a plan: its base config, the overrides fixing the plan's recipe, and the
    ``--grid`` options of its CELLS tuning cells (empty: a fixed config, tested on all seeds)."""

    stem: str
    fixed: list[str]
    grid: list[str]


MF_LOSSES: dict[str, LossPlan] = {
    "sl": LossPlan("mf-sl", SL_RECIPE, ["loss.temperature=0.1,0.15,0.2,0.25"]),
    "bcl": LossPlan(
        "mf-bcl-nce-cosine",
        SL_RECIPE + ["loss.temperature=0.15", "loss.beta=0.5", "loss.ecdf=mid"],
        ["loss.alpha=0.7,0.9", "loss.tau_plus=0.05,0.15"],
    ),
    "bpr": LossPlan("mf-bpr", [], ["train.lr=0.001,0.002", "train.weight_decay=0,1e-5"]),
    "bsl": LossPlan(
        "mf-bsl", SL_RECIPE + ["loss.temperature=0.15"], ["loss.bsl_gamma=0.7,0.8,0.9,1.1"]
    ),
    "psl": LossPlan(
        "mf-psl",
        SL_RECIPE + ["loss.psl_activation=tanh"],
        ["loss.psl_temperature=0.05,0.075,0.1,0.125"],
    ),
    "hcl": LossPlan(
        "mf-hcl",
        SL_RECIPE + ["loss.temperature=0.15", "loss.tau_plus=0.05"],
        ["loss.hcl_beta=0.25,0.5,1.0,2.0"],
    ),
}


def with_negatives(losses: dict[str, LossPlan], n: int) -> dict[str, LossPlan]:
    """``losses`` with the SL recipe's 256 unlabeled items per positive replaced by ``n``."""
    old, new = "loss.num_negatives=256", f"loss.num_negatives={n}"
    return {
        name: plan._replace(fixed=[new if o == old else o for o in plan.fixed])
        for name, plan in losses.items()
    }


# LightGCN on the cheap recipe of the shipped LightGCN configs: dot scores, 10 unlabeled items per
# positive, batch 2048, lr 0.002; patience 20 (these runs peak late, after 60-120 epochs)
LIGHTGCN_LOSSES: dict[str, LossPlan] = {
    "ssm": LossPlan("lightgcn-ssm", [], ["loss.temperature=0.4,0.6,0.8,1.0"]),
    "bcl": LossPlan(
        "lightgcn-bcl-nce",
        ["loss.beta=1.0", "loss.tau_plus=0.05", "loss.ecdf=mid"],
        ["loss.temperature=0.6,1.0", "loss.alpha=0.7,0.9"],
    ),
    "hcl": LossPlan("lightgcn-hcl", [], ["loss.hcl_beta=0.25,0.5,1.0,2.0"]),
    "bpr": LossPlan("lightgcn-bpr", [], ["train.lr=0.002,0.005", "train.weight_decay=0,1e-5"]),
}


# LightGCN on the SL recipe (cosine scores, 256 unlabeled items per positive), the same losses and
# grids as MF; batch 2048 and lr 0.002 as in every LightGCN config. BPR keeps its own LightGCN
# recipe, so its runs are borrowed from the dot-recipe LightGCN plan of the same dataset.
LIGHTGCN_STEMS = {"mf-hcl": "lightgcn-hcl-cosine"}


def on_lightgcn(losses: dict[str, LossPlan]) -> dict[str, LossPlan]:
    """``losses`` on LightGCN: the ``lightgcn-`` base configs, lr 0.002 for batch 2048."""
    return {
        name: plan._replace(
            stem=LIGHTGCN_STEMS.get(plan.stem, plan.stem.replace("mf-", "lightgcn-", 1)),
            fixed=["train.lr=0.002" if o == "train.lr=0.001" else o for o in plan.fixed],
        )
        for name, plan in losses.items()
        if name != "bpr"
    }


LIGHTGCN_SL_LOSSES: dict[str, LossPlan] = {
    **on_lightgcn(MF_LOSSES),
    "bpr": LIGHTGCN_LOSSES["bpr"]._replace(fixed=["train.patience=20", "train.epochs=300"]),
}


def picks(name: str) -> dict[str, dict[str, Any]]:
    """Each loss's pick in the committed ``results/fair/<name>.json``: its tuning run, the row of
    seed TUNE_SEED (``collect`` writes it first)."""
    rows = json.loads((ROOT / "results" / "fair" / f"{name}.json").read_text())
    return {r["config"]: r for r in rows if r["seed"] == TUNE_SEED}


def as_overrides(params: dict[str, Any]) -> list[str]:
    """A pick's parameters as ``--set`` items."""
    return [f"{key}={json.dumps(value)}" for key, value in params.items()]


# beyond the equal budget: 4 more cells for BCL around its LightGCN pick (learning rate, unlabeled
# items per positive), then HCL and sampled softmax given BCL's winning cell (N = 50, lr 0.002) on
# their own picks, untuned, so that the gain of more negatives is not credited to BCL alone
LIGHTGCN_PICKS = picks("ml-100k-lightgcn")
WINNING_CELL = ["loss.num_negatives=50", "train.lr=0.002"]
LIGHTGCN_MORE: dict[str, LossPlan] = {
    "bcl-more": LossPlan(
        "lightgcn-bcl-nce",
        LIGHTGCN_LOSSES["bcl"].fixed + as_overrides(LIGHTGCN_PICKS["bcl"]["params"]),
        ["train.lr=0.002,0.005", "loss.num_negatives=10,50"],
    ),
    "hcl-more": LossPlan(
        "lightgcn-hcl", as_overrides(LIGHTGCN_PICKS["hcl"]["params"]) + WINNING_CELL, []
    ),
    "ssm-more": LossPlan(
        "lightgcn-ssm", as_overrides(LIGHTGCN_PICKS["ssm"]["params"]) + WINNING_CELL, []
    ),
}

# the Yelp sample, untuned (compute allowed no tuning cells on this log): BPR, SL on cosine scores
# with MovieLens-100K's recipe, and BCL / HCL / BSL / PSL on SL's recipe with their MovieLens picks;
# seeds 1-5
YELP_LOSSES: dict[str, LossPlan] = {
    "bpr": LossPlan("mf-bpr", [], []),
    "sl": LossPlan("mf-sl", [], []),
    "bcl": LossPlan("mf-bcl-nce-cosine", [], []),
    "hcl": LossPlan("mf-hcl-cosine", [], []),
    "bsl": LossPlan("mf-bsl-cosine", [], []),
    "psl": LossPlan("mf-psl-cosine", [], []),
}

# LightGCN on the Yelp sample, untuned: the SL recipe (N = 64, as MF on this log) with
# ml-latest-small's LightGCN picks at the same N, and BPR on LightGCN's dot recipe with the learning
# rate both MovieLens LightGCN tunings picked; seeds 1-5
YELP_LIGHTGCN_LOSSES: dict[str, LossPlan] = {
    "bpr": LossPlan("lightgcn-bpr", ["train.lr=0.005"], []),
    "sl": LossPlan("lightgcn-sl", [], []),
    "bcl": LossPlan("lightgcn-bcl-nce-cosine", [], []),
    "hcl": LossPlan("lightgcn-hcl-cosine", [], []),
    "bsl": LossPlan("lightgcn-bsl", [], []),
    "psl": LossPlan("lightgcn-psl", [], []),
}

# The Yelp sample, tuned with the same budget, one cell at a time: MovieLens' grids at N = 64 on
# the Yelp configs, with patience 10 for every loss (LightGCN's BPR included, as in its untuned
# runs). Each cell is a run of its own whose row lands in results/fair/<plan>-tuning.json as soon
# as it is collected, so the tuning can span machines (48 cells of 3-30 minutes on two cores).
# The untuned plan's seed-1 run (``cells_from``) is exactly one cell of every grid, the MovieLens
# pick it was given (``untuned_cell`` checks the configs are equal): it is that cell, not rerun,
# and when it is the pick its five seeds are the test.
def on_yelp(losses: dict[str, LossPlan], untuned: dict[str, LossPlan]) -> dict[str, LossPlan]:
    """``losses`` at N = 64 on the Yelp configs of the untuned plan's losses."""
    return {
        name: plan._replace(stem=untuned[name].stem)
        for name, plan in with_negatives(losses, 64).items()
    }


YELP_MF_TUNED = on_yelp(MF_LOSSES, YELP_LOSSES)
YELP_LIGHTGCN_TUNED = {
    **on_yelp(LIGHTGCN_SL_LOSSES, YELP_LIGHTGCN_LOSSES),
    "bpr": LIGHTGCN_LOSSES["bpr"]._replace(stem=YELP_LIGHTGCN_LOSSES["bpr"].stem),
}

PLANS: dict[str, dict[str, Any]] = {
    "ml-100k-mf": {"configs": "configs/ml-100k", "losses": MF_LOSSES, "set": []},
    "ml-100k-lightgcn": {
        "configs": "configs/ml-100k",
        "losses": LIGHTGCN_LOSSES,
        "set": ["train.patience=20", "train.epochs=300"],
    },
    "ml-100k-lightgcn-more": {
        "configs": "configs/ml-100k",
        "losses": LIGHTGCN_MORE,
        "set": ["train.patience=20", "train.epochs=300"],
        "ship": False,  # outside the protocol: its pick is not written to configs/
    },
    # N = 64 as on Yelp: on the 9.7K-item catalogue an N = 256 epoch took 20 s (10 min a cell)
    "ml-latest-small-mf": {
        "configs": "configs/ml-latest-small",
        "losses": with_negatives(MF_LOSSES, 64),
        "set": [],
    },
    "ml-latest-small-lightgcn": {
        "configs": "configs/ml-latest-small",
        "losses": LIGHTGCN_LOSSES,
        "set": ["train.patience=20", "train.epochs=300"],
    },
    "ml-100k-lightgcn-sl": {
        "configs": "configs/ml-100k",
        "losses": LIGHTGCN_SL_LOSSES,
        "set": [],
        "borrow": {"bpr": "ml-100k-lightgcn"},
    },
    "ml-latest-small-lightgcn-sl": {
        "configs": "configs/ml-latest-small",
        "losses": with_negatives(LIGHTGCN_SL_LOSSES, 64),
        "set": [],
        "borrow": {"bpr": "ml-latest-small-lightgcn"},
    },
    "yelp-mf": {"configs": "configs/yelp2018", "losses": YELP_LOSSES, "set": ["train.epochs=300"]},
    "yelp-lightgcn-sl": {
        "configs": "configs/yelp2018",
        "losses": YELP_LIGHTGCN_LOSSES,
        "set": ["train.epochs=300"],
    },
    "yelp-mf-tuned": {
        "configs": "configs/yelp2018",
        "losses": YELP_MF_TUNED,
        "set": ["train.epochs=300"],
        "cells_from": "yelp-mf",
    },
    "yelp-lightgcn-sl-tuned": {
        "configs": "configs/yelp2018",
        "losses": YELP_LIGHTGCN_TUNED,
        "set": ["train.epochs=300"],
        "cells_from": "yelp-lightgcn-sl",
    },
}


def run(cmd: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    with log.open("a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"fair_tuning: {' '.join(cmd)} failed ({done.returncode}); see {log}")


def recipe(plan: dict[str, Any], loss: str) -> list[str]:
    """The overrides every run of ``loss`` in ``plan`` shares (its tuning cells and seeds)."""
    return COMMON + plan["set"] + plan["losses"][loss].fixed


def sweep_cmd(plan: dict[str, Any], loss: str, extra: list[str], out: Path) -> list[str]:
    stem = plan["losses"][loss].stem
    cmd = [sys.executable, "-m", "bcl_rec", "sweep", f"{plan['configs']}/{stem}.yaml"]
    for item in recipe(plan, loss):
        cmd += ["--set", item]
    return cmd + extra + ["--out", str(out)]


def tune(plan: dict[str, Any], loss: str, out: Path) -> None:
    grid = plan["losses"][loss].grid
    if not grid:
        return  # a fixed config: nothing to tune
    cells = len(grid_cells(parse_grid(grid)))
    assert cells == CELLS, f"{loss}: {cells} cells, the budget is {CELLS}"
    extra = [a for g in grid for a in ("--grid", g)] + ["--set", f"train.seed={TUNE_SEED}"]
    run(sweep_cmd(plan, loss, extra, out / loss / "tune"), out / loss / "log.txt")


def tuning_summary(out: Path, loss: str) -> dict[str, Any]:
    """The tuning sweep's ``summary.json``, its runs best validation metric first."""
    summary = json.loads((out / loss / "tune" / "summary.json").read_text())
    if summary["finished"] != summary["cells"]:
        raise SystemExit(
            f"fair_tuning: {loss}: {summary['finished']}/{summary['cells']} cells done"
        )
    return summary


def pick(out: Path, loss: str) -> dict[str, Any]:
    """The tuning cell with the best validation metric (ties: the earlier cell)."""
    return tuning_summary(out, loss)["runs"][0]


def test(plan: dict[str, Any], loss: str, out: Path) -> None:
    tuned = bool(plan["losses"][loss].grid)
    picked = as_overrides(pick(out, loss)["params"]) if tuned else []
    extra = [a for item in picked for a in ("--set", item)]
    seeds = TEST_SEEDS if tuned else (TUNE_SEED, *TEST_SEEDS)
    extra += ["--seeds", ",".join(map(str, seeds))]
    run(sweep_cmd(plan, loss, extra, out / loss / "test"), out / loss / "log.txt")


def _row(label: str, folder: Path, seed: int, params: dict[str, Any]) -> dict[str, Any]:
    metrics = json.loads((folder / "metrics.json").read_text())
    row: dict[str, Any] = {"config": label, "seed": seed, "params": params}
    for name in METRICS:
        row[f"test_{name}"] = metrics["test"][name]
        row[f"valid_{name}"] = metrics["valid"][name]
    row["best_epoch"] = metrics["best_epoch"]
    row["epochs"] = metrics["epochs"]
    row["seconds"] = metrics["seconds"]["total"]
    return row


def seed_rows(label: str, folder: Path, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per finished run folder (``metrics.json`` present) under ``folder``, by seed."""
    rows = []
    for run_dir in sorted(p.parent for p in folder.glob("*/metrics.json")):
        seed = yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["seed"]
        rows.append(_row(label, run_dir, seed, params))
    return sorted(rows, key=lambda r: r["seed"])


def keep_recorded(
    fresh: list[dict[str, Any]], recorded: list[dict[str, Any]], order: list[str], out: Path
) -> list[dict[str, Any]]:
    """``fresh`` rows plus each recorded row whose run was not collected now, in ``order``.

    Run folders live on the machine that trained them; the result file is what is committed.
    A collect on another machine, after one new seed, or of a subset of the losses must not
    drop committed rows it has no folder for. A recorded row is kept when no fresh row has its
    (loss, seed) and, if its loss has fresh rows, its params are theirs (a new pick replaces the
    old pick's rows).
    """
    have = {(r["config"], r["seed"]) for r in fresh}
    params = {r["config"]: r["params"] for r in fresh}
    kept: dict[str, list[int]] = {}
    rows = list(fresh)
    for row in recorded:
        loss = row["config"]
        if (loss, row["seed"]) in have or params.get(loss, row["params"]) != row["params"]:
            continue
        rows.append(row)
        kept.setdefault(loss, []).append(row["seed"])
    for loss, seeds in kept.items():
        print(
            f"fair_tuning: kept the recorded rows of {loss} (seeds {', '.join(map(str, seeds))}):"
            f" no run folder of theirs under {out / loss}"
        )
    rank = {loss: i for i, loss in enumerate(order)}
    return sorted(rows, key=lambda r: (rank[r["config"]], r["seed"]))


def recorded(path: Path) -> list[dict[str, Any]]:
    """The rows a committed result file holds (none before the first collect)."""
    return json.loads(path.read_text()) if path.exists() else []


def collect(
    name: str, losses: list[str], out: Path, plan: dict[str, Any], dest: Path | None = None
) -> None:
    if "cells_from" in plan:
        collect_cells(name, losses, out, dest)
        return
    rows, tuning = [], []
    for loss in losses:
        if not plan["losses"][loss].grid:  # a fixed config over all the seeds
            rows += seed_rows(loss, out / loss / "test", {})
            continue
        if not (out / loss / "tune").exists() and not (out / loss / "test").exists():
            continue  # trained elsewhere: its recorded rows are kept below
        summary = tuning_summary(out, loss)
        for run_ in summary["runs"]:
            row = _row(loss, out / loss / "tune" / run_["folder"], run_["seed"], run_["params"])
            tuning.append(row)
        best = summary["runs"][0]
        rows.append(_row(loss, out / loss / "tune" / best["folder"], TUNE_SEED, best["params"]))
        rows += seed_rows(loss, out / loss / "test", best["params"])
    dest = dest or ROOT / "results" / "fair"
    dest.mkdir(parents=True, exist_ok=True)
    result, cells = dest / f"{name}.json", dest / f"{name}-tuning.json"
    old_rows, old_cells = recorded(result), recorded(cells)
    # the file's own order of losses first, so a collect that finds nothing new changes nothing
    order = list(dict.fromkeys([r["config"] for r in old_rows + old_cells] + list(plan["losses"])))
    rows = keep_recorded(rows, old_rows, order, out)
    tuned = {r["config"] for r in tuning}
    tuning += [r for r in old_cells if r["config"] not in tuned]
    result.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {result} ({len(rows)} runs)")
    if tuning:
        tuning.sort(key=lambda r: order.index(r["config"]))  # stable: cells keep their order
        cells.write_text(json.dumps(tuning, indent=1) + "\n")
        print(f"wrote {cells} ({len(tuning)} cells)")


Cell = tuple[str, ...]


def cells_of(plan: dict[str, Any], loss: str) -> list[Cell]:
    """The loss's tuning cells, as ``--set`` items, in the sweep's order."""
    return grid_cells(parse_grid(plan["losses"][loss].grid))


def cell_config(plan: dict[str, Any], loss: str, items: list[str]):
    """The config a run of ``loss`` in ``plan`` with ``items`` set on top of its recipe trains."""
    base = ROOT / plan["configs"] / f"{plan['losses'][loss].stem}.yaml"
    return load_config(base, recipe(plan, loss) + items, warn_unused=False)


def cell_params(plan: dict[str, Any], loss: str, cell: Cell) -> dict[str, Any]:
    """The cell's values as the config types them (what a sweep's summary records)."""
    config = cell_config(plan, loss, list(cell))
    keys = [item.split("=", 1)[0] for item in cell]
    return {key: getattr(getattr(config, key.split(".")[0]), key.split(".")[1]) for key in keys}


def untuned_cell(plan: dict[str, Any], loss: str) -> Cell:
    """The cell whose seed-1 run is the untuned plan's seed-1 run of ``loss`` (equal configs)."""
    untuned = PLANS[plan["cells_from"]]
    reference = cell_config(untuned, loss, [f"train.seed={TUNE_SEED}"])
    for cell in cells_of(plan, loss):
        if cell_config(plan, loss, [*cell, f"train.seed={TUNE_SEED}"]) == reference:
            return cell
    raise SystemExit(f"fair_tuning: {loss}: no cell of its grid is {plan['cells_from']}'s run")


def cell_folder(out: Path, loss: str, cell: Cell) -> Path:
    return out / loss / "cells" / ",".join(cell)


def known_cells(name: str, loss: str, out: Path, dest: Path) -> dict[Cell, dict[str, Any]]:
    """The seed-1 row of every cell of ``loss`` that has one, in grid order: a finished run
    folder under ``out``, else the row recorded in ``<plan>-tuning.json``, else (for the untuned
    cell) the untuned plan's seed-1 row."""
    plan = PLANS[name]
    recorded_cells = recorded(dest / f"{name}-tuning.json")
    untuned_rows = recorded(dest / f"{plan['cells_from']}.json")
    start = untuned_cell(plan, loss)
    known = {}
    for cell in cells_of(plan, loss):
        params = cell_params(plan, loss, cell)
        found = seed_rows(loss, cell_folder(out, loss, cell), params)
        found += [r for r in recorded_cells if r["config"] == loss and r["params"] == params]
        if cell == start:
            found += [
                dict(r, params=params)
                for r in untuned_rows
                if r["config"] == loss and r["seed"] == TUNE_SEED
            ]
        if found:
            known[cell] = found[0]
    return known


def best_cell(known: dict[Cell, dict[str, Any]]) -> Cell:
    """The cell with the best validation NDCG@10 (ties: the earlier cell)."""
    return max(known, key=lambda cell: known[cell]["valid_ndcg@10"])


def cells_pick(name: str, loss: str, out: Path) -> dict[str, Any]:
    """The pick of a plan tuned cell by cell, as :func:`pick` gives a sweep's."""
    known = known_cells(name, loss, out, ROOT / "results" / "fair")
    if len(known) < CELLS:
        raise SystemExit(f"fair_tuning: {loss}: {len(known)}/{CELLS} cells known, no pick yet")
    best = known[best_cell(known)]
    return {"params": best["params"], "valid": best["valid_ndcg@10"]}


def tune_cells(name: str, losses: list[str], out: Path, jobs: int) -> None:
    """Run each cell with no row yet, seed 1, ``jobs`` at a time (the losses' order first)."""
    plan, dest = PLANS[name], ROOT / "results" / "fair"
    todo = []
    for loss in losses:  # the known cells once per loss: each lookup reads configs and files
        known = known_cells(name, loss, out, dest)
        todo += [(loss, cell) for cell in cells_of(plan, loss) if cell not in known]

    def one(job: tuple[str, Cell]) -> None:
        loss, cell = job
        extra = [a for item in cell for a in ("--set", item)] + ["--seeds", str(TUNE_SEED)]
        run(sweep_cmd(plan, loss, extra, cell_folder(out, loss, cell)), out / loss / "log.txt")

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, todo))


def test_cells(name: str, losses: list[str], out: Path) -> None:
    """Seeds 2..5 of each loss whose cells are all known and whose pick is not the untuned cell
    (the untuned plan's five seeds are that cell's test)."""
    plan, dest = PLANS[name], ROOT / "results" / "fair"
    for loss in losses:
        known = known_cells(name, loss, out, dest)
        best = best_cell(known) if len(known) == CELLS else None
        if best is None or best == untuned_cell(plan, loss):
            continue
        extra = [a for item in best for a in ("--set", item)]
        extra += ["--seeds", ",".join(map(str, TEST_SEEDS))]
        run(sweep_cmd(plan, loss, extra, out / loss / "test"), out / loss / "log.txt")


def collect_cells(name: str, losses: list[str], out: Path, dest: Path | None = None) -> None:
    """``collect`` for a plan tuned cell by cell: every known cell into ``<name>-tuning.json``,
    and the five seeds of each loss whose cells are all known into ``<name>.json``."""
    plan, dest = PLANS[name], dest or ROOT / "results" / "fair"
    dest.mkdir(parents=True, exist_ok=True)
    result, cells_file = dest / f"{name}.json", dest / f"{name}-tuning.json"
    old_rows, old_cells = recorded(result), recorded(cells_file)
    untuned_rows = recorded(dest / f"{plan['cells_from']}.json")
    rows, tuning = [], []
    for loss in losses:
        known = known_cells(name, loss, out, dest)
        tuning += known.values()
        if len(known) < CELLS:
            print(f"fair_tuning: {loss}: {len(known)}/{CELLS} cells known, no pick yet")
            continue
        best = best_cell(known)
        params = known[best]["params"]
        if best == untuned_cell(plan, loss):
            rows += [dict(r, params=params) for r in untuned_rows if r["config"] == loss]
        else:
            rows += [known[best], *seed_rows(loss, out / loss / "test", params)]
    # the plan's order of losses, whichever loss got its pick first
    order = list(dict.fromkeys(list(plan["losses"]) + [r["config"] for r in old_rows + old_cells]))
    rows = keep_recorded(rows, old_rows, order, out)
    tuning += [r for r in old_cells if r["config"] not in losses]
    tuning.sort(key=lambda r: order.index(r["config"]))  # stable: cells keep their grid order
    for path, content in ((result, rows), (cells_file, tuning)):
        if content or path.exists():  # no result file before a loss has its pick
            path.write_text(json.dumps(content, indent=1) + "\n")
            print(f"wrote {path} ({len(content)} rows)")


def write_config(name: str, plan: dict[str, Any], loss: str, out: Path) -> Path:
    """``configs/<dataset>/tuned/<stem>.yaml``: the base config with the plan's recipe and the
    loss's pick applied, headed by the protocol that chose it."""
    stem = plan["losses"][loss].stem
    base = yaml.safe_load((ROOT / plan["configs"] / f"{stem}.yaml").read_text())
    best = pick(out, loss) if "cells_from" not in plan else cells_pick(name, loss, out)
    picked = as_overrides(best["params"])
    config = apply_overrides(base, recipe(plan, loss) + picked)
    header = (
        f"# {stem} as chosen by the equal-budget protocol (benchmarks/fair_tuning.py {name}):\n"
        f"# {CELLS} cells over {', '.join(best['params'])}, trained with seed {TUNE_SEED}, this\n"
        f"# one best by validation NDCG@10 ({best['valid']:.4f}). Results: docs/results.md.\n"
    )
    dest = ROOT / plan["configs"] / "tuned" / f"{stem}.yaml"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False))
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", choices=sorted(PLANS))
    parser.add_argument("stages", nargs="+", choices=("tune", "test", "collect", "configs"))
    parser.add_argument("--losses", nargs="*", help="a subset of the plan's losses")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/fair"))
    args = parser.parse_args(argv)
    plan = PLANS[args.plan]
    if "configs" in args.stages and not plan.get("ship", True):
        parser.error(f"configs: {args.plan} is outside the equal-budget protocol; not shipped")
    out = (args.out / args.plan).resolve()
    losses = args.losses or list(plan["losses"])
    unknown = [loss for loss in losses if loss not in plan["losses"]]
    if unknown:
        parser.error(f"--losses: {args.plan} has no {unknown}; choose from {list(plan['losses'])}")
    borrowed = plan.get("borrow", {})
    for loss, other in borrowed.items():  # the same cells, run by another plan: link its folder
        if loss in losses and not os.path.lexists(out / loss):  # a link to a missing folder too
            out.mkdir(parents=True, exist_ok=True)
            (out / loss).symlink_to((args.out / other / loss).resolve(), target_is_directory=True)
    if "cells_from" in plan:  # tuned cell by cell: each stage over all the losses' cells
        if "tune" in args.stages:
            tune_cells(args.plan, losses, out, args.jobs)
        if "test" in args.stages:
            test_cells(args.plan, losses, out)
        if "collect" in args.stages:
            collect(args.plan, losses, out, plan)
        if "configs" in args.stages:
            for loss in losses:
                print("wrote", write_config(args.plan, plan, loss, out).relative_to(ROOT))
        return 0
    stages = [{"tune": tune, "test": test}[s] for s in args.stages if s in ("tune", "test")]

    def one_loss(loss: str) -> None:  # a loss is tuned and tested before the worker moves on
        for stage in stages if loss not in borrowed else []:
            stage(plan, loss, out)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one_loss, losses))
    if "collect" in args.stages:
        collect(args.plan, losses, out, plan)
    if "configs" in args.stages:
        for loss in (loss for loss in losses if loss not in borrowed):  # shipped by their plan
            print("wrote", write_config(args.plan, plan, loss, out).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
