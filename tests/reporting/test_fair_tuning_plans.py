"""The equal-budget plans of ``benchmarks/fair_tuning.py``: every run they would start has a
valid config, every tuned loss gets the same budget, and borrowed runs are the same cells."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bcl_rec.config import RunConfig, dump_config, load_config

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("fair_tuning", ROOT / "benchmarks/fair_tuning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = load_script()
PLANS = [(name, loss) for name, plan in script.PLANS.items() for loss in plan["losses"]]


def config_of(name: str, loss: str, cell: tuple[str, ...] = ()) -> RunConfig:
    """The config a run of ``loss`` in plan ``name`` trains with (one tuning cell's overrides)."""
    plan = script.PLANS[name]
    stem = plan["losses"][loss].stem
    path = ROOT / plan["configs"] / f"{stem}.yaml"
    return load_config(path, script.recipe(plan, loss) + list(cell), False)


def resolved(name: str, loss: str, cell: tuple[str, ...] = ()) -> str:
    """:func:`config_of` as the YAML text a run folder's ``config.yaml`` holds."""
    return dump_config(config_of(name, loss, cell))


@pytest.mark.parametrize(("name", "loss"), PLANS)
def test_every_cell_of_every_plan_is_a_valid_config_with_the_budget(name, loss):
    grid = script.PLANS[name]["losses"][loss].grid
    cells = script.grid_cells(script.parse_grid(grid)) if grid else [()]
    assert len(cells) in ((script.CELLS,) if grid else (1,))
    for cell in cells:
        resolved(name, loss, cell)  # raises ConfigError on a bad key or value


@pytest.mark.parametrize(
    ("name", "loss", "lender"),
    [
        (n, loss, other)
        for n, p in script.PLANS.items()
        for loss, other in p.get("borrow", {}).items()
    ],
)
def test_a_borrowed_loss_runs_the_same_cells_as_in_its_lending_plan(name, loss, lender):
    mine = script.PLANS[name]["losses"][loss]
    theirs = script.PLANS[lender]["losses"][loss]
    assert (mine.stem, mine.grid) == (theirs.stem, theirs.grid)
    for cell in script.grid_cells(script.parse_grid(mine.grid)):
        assert resolved(name, loss, cell) == resolved(lender, loss, cell)


def test_lightgcn_sl_plans_are_the_mf_sl_plan_on_lightgcn():
    for name, n in (("ml-100k-lightgcn-sl", 256), ("ml-latest-small-lightgcn-sl", 64)):
        for loss in ("sl", "bcl", "bsl", "psl", "hcl"):
            config = config_of(name, loss)
            assert config.model.name == "lightgcn" and config.model.score == "cosine"
            assert config.loss.num_negatives == n and config.train.lr == 0.002
            assert config.train.patience == 10
            assert script.PLANS[name]["losses"][loss].grid == script.MF_LOSSES[loss].grid


def test_yelp_lightgcn_runs_ml_latest_small_lightgcn_picks_on_yelp():
    """Untuned on Yelp: each softmax-family loss is ml-latest-small's LightGCN pick at the same
    N (its shipped tuned config) on the Yelp data of the MF table; BPR takes the learning rate
    both MovieLens LightGCN tunings picked."""
    yelp_data = config_of("yelp-mf", "sl").data
    for loss in ("sl", "bcl", "bsl", "psl", "hcl"):
        config = config_of("yelp-lightgcn-sl", loss)
        stem = script.PLANS["yelp-lightgcn-sl"]["losses"][loss].stem
        pick = load_config(ROOT / "configs/ml-latest-small/tuned" / f"{stem}.yaml", [], False)
        assert config.loss == pick.loss and config.model == pick.model
        assert (config.train.lr, config.train.batch_size) == (pick.train.lr, pick.train.batch_size)
        assert config.data == yelp_data and config.eval.metric == "ndcg@10"
    bpr = config_of("yelp-lightgcn-sl", "bpr")
    for lender in ("ml-100k-lightgcn", "ml-latest-small-lightgcn"):
        assert script.picks(lender)["bpr"]["params"]["train.lr"] == bpr.train.lr
    assert bpr.model.name == "lightgcn" and bpr.data == yelp_data
