"""RecBole's own pipeline (``Config``, ``create_dataset``, ``data_preparation``, ``Trainer``) run
with a model class, and ``load_data_and_model`` for the checkpoints it writes.

``recbole.quick_start.run_recbole`` takes model names only and imports ray (which needs
``pkg_resources`` and numpy < 2) at import time; this module follows the same steps without it.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from logging import getLogger
from pathlib import Path
from typing import Any

import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_model, init_logger, init_seed

from bcl_rec.integrations.recbole.checkpoint import load_checkpoint
from bcl_rec.integrations.recbole.data import set_data_path
from bcl_rec.integrations.recbole.models import MODELS, BCLRecommender
from bcl_rec.integrations.recbole.settings import loss_config, negatives_per_positive
from bcl_rec.integrations.recbole.trainer import trainer_class
from bcl_rec.losses import LossConfig


class ExplicitConfig(Config):
    """RecBole's ``Config`` without its ``sys.argv`` scan: every setting is passed explicitly."""

    def _load_cmd_line(self) -> dict[str, Any]:
        return {}


def resolve_model(model: str | type) -> type:
    """A model class: bcl-rec's by name (``BCLMF``, ``BCLLightGCN``), else RecBole's by name."""
    if not isinstance(model, str):
        return model
    if model in MODELS:
        return MODELS[model]
    return get_model(model)


def build_config(
    model: str | type,
    dataset: str,
    config_dict: Mapping[str, Any] | None = None,
    config_file_list: Sequence[str | os.PathLike[str]] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Config:
    """RecBole's ``Config`` for ``model``, with bcl-rec's model defaults and N made consistent."""
    model_class = resolve_model(model)
    config = ExplicitConfig(
        model=model_class,
        dataset=dataset,
        config_file_list=[str(f) for f in config_file_list or []] or None,
        config_dict=dict(config_dict or {}),
    )
    if issubclass(model_class, BCLRecommender):
        for key, value in model_class.defaults.items():
            if config[key] is None:
                config[key] = value
        sync_negatives(config)
        loss_config(config, negatives_per_positive(config))  # invalid settings fail before data
    set_data_path(config, data_dir)
    return config


def sync_negatives(config: Config) -> None:
    """Make RecBole sample ``loss.num_negatives`` items per positive unless told otherwise.

    ``train_neg_sample_args.sample_num`` set explicitly wins (the model checks the two agree);
    otherwise it becomes ``loss.num_negatives``, or bcl-rec's default N when that is unset too.
    """
    external = config.external_config_dict.get("train_neg_sample_args") or {}
    if "sample_num" in external:
        return
    loss = config["loss"]
    n = loss.get("num_negatives") if isinstance(loss, Mapping) else None
    args = dict(config["train_neg_sample_args"])
    if args.get("distribution") in (None, "none"):
        args.update(distribution="uniform", alpha=1.0, dynamic=False, candidate_num=0)
    args["sample_num"] = int(n) if n is not None else LossConfig().num_negatives
    config["train_neg_sample_args"] = args


def run(
    model: str | type,
    dataset: str,
    config_dict: Mapping[str, Any] | None = None,
    config_file_list: Sequence[str | os.PathLike[str]] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    saved: bool = True,
    out: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train and test ``model`` with RecBole's pipeline; RecBole's results plus ``metrics``.

    Returns the keys of ``recbole.quick_start.run_recbole`` (``best_valid_score``,
    ``valid_score_bigger``, ``best_valid_result``, ``test_result``), ``checkpoint`` (the saved
    file, or None) and ``metrics`` (the ``metrics.json`` shape of ``bcl-rec train``), which is
    also written to ``out/metrics.json`` when ``out`` is given.
    """
    t_start = time.perf_counter()
    config = build_config(model, dataset, config_dict, config_file_list, data_dir)
    if out is not None and "checkpoint_dir" not in config.external_config_dict:
        config["checkpoint_dir"] = str(Path(out) / "checkpoints")
    data, train_data, valid_data, test_data = _prepare_data(config)
    logger = getLogger()
    model_class = resolve_model(model)
    net = model_class(config, train_data._dataset).to(config["device"])
    logger.info(net)
    trainer = trainer_class(config["MODEL_TYPE"], config["model"])(config, net)
    progress = bool(config["show_progress"])
    best_score, best_valid = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=progress
    )
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=progress)
    logger.info(f"best valid : {best_valid}")
    logger.info(f"test result: {test_result}")
    result = {
        "model": config["model"],
        "best_valid_score": float(best_score),
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": _floats(best_valid),
        "test_result": _floats(test_result),
        "checkpoint": trainer.saved_model_file if saved else None,
    }
    result["metrics"] = run_metrics(result, trainer, data, time.perf_counter() - t_start)
    if out is not None:
        write_metrics(result["metrics"], out)
    return result


def run_metrics(
    result: Mapping[str, Any], trainer: Any, data: Any, seconds: float
) -> dict[str, Any]:
    """``bcl-rec train``'s ``metrics.json`` shape from a RecBole run (metric keys lower-case)."""
    import recbole

    return {
        "best_epoch": trainer.best_epoch,
        "epochs": trainer.epochs_run,
        "valid": {k.lower(): v for k, v in (result["best_valid_result"] or {}).items()},
        "test": {k.lower(): v for k, v in (result["test_result"] or {}).items()},
        "seconds": {
            "train_epoch_median": _median(trainer.train_seconds),
            "eval_median": _median(trainer.eval_seconds),
            "total": seconds,
        },
        "device": str(trainer.device),
        "data": {"users": int(data.user_num - 1), "items": int(data.item_num - 1),
                 "interactions": int(data.inter_num)},
        "model": result["model"],
        "checkpoint": result["checkpoint"],
        "torch": torch.__version__,
        "recbole": recbole.__version__,
    }


def write_metrics(metrics: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """``out/metrics.json``, written to a temporary name and renamed."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    os.replace(tmp, folder / "metrics.json")
    return folder / "metrics.json"


def load_data_and_model(
    model_file: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    trusted: bool = False,
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """RecBole's ``load_data_and_model`` for checkpoints of this runner (bcl-rec or RecBole models).

    Returns ``(config, model, dataset, train_data, valid_data, test_data)`` as RecBole does; the
    file is read by :func:`~bcl_rec.integrations.recbole.checkpoint.load_checkpoint`.
    """
    checkpoint = load_checkpoint(model_file, map_location="cpu", trusted=trusted)
    config = checkpoint["config"]
    set_data_path(config, data_dir)
    init_seed(config["seed"], config["reproducibility"])
    data, train_data, valid_data, test_data = _prepare_data(config)
    model = resolve_model(config["model"])(config, train_data._dataset).to(config["device"])
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model, data, train_data, valid_data, test_data


def _init_logging(config: Config) -> None:
    """RecBole's logger setup, as ``run_recbole`` does it (old handlers removed first)."""
    init_seed(config["seed"], config["reproducibility"])
    logger = getLogger()
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
    init_logger(config)
    logging.basicConfig(level=logging.ERROR)


def _floats(result: Mapping[str, Any] | None) -> dict[str, float] | None:
    return None if result is None else {k: float(v) for k, v in result.items()}


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _prepare_data(config):
    """RecBole's data flow: logging, the dataset, its three loaders, then RecBole's seed reset."""
    _init_logging(config)
    logger = getLogger()
    logger.info(config)
    data = create_dataset(config)
    logger.info(data)
    train_data, valid_data, test_data = data_preparation(config, data)
    init_seed(config["seed"], config["reproducibility"])
    return data, train_data, valid_data, test_data
