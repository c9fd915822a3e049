"""The Python API: load a dataset, fit a recommender, evaluate, recommend, save and load.

A thin layer over the CLI's code path: keyword arguments become a :class:`RunConfig` through
:func:`~bcl_rec.config.build_config` (the same validation and did-you-mean errors as a YAML
config), :meth:`Recommender.fit` calls :func:`~bcl_rec.training.run.train_run`,
:meth:`Recommender.save` writes the run folder ``bcl-rec train`` writes, and
:meth:`Recommender.load` reads it back with :func:`~bcl_rec.run_folder.load_run`.
Ids are raw ids (as in the data file) in and out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from bcl_rec.config import RunConfig, build_config
from bcl_rec.data.config import DataConfig
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.load import load_split
from bcl_rec.data.split import Split, seen_matrix, split_log
from bcl_rec.errors import ConfigError, did_you_mean
from bcl_rec.evaluation.topk import top_items
from bcl_rec.run_folder import SavedRun, SavedRunError, load_run
from bcl_rec.training.run import RunResult, train_run, write_run

__all__ = ["Dataset", "Recommender", "load_dataset"]

#: Sections a keyword argument of :class:`Recommender` may set (``data`` comes from the dataset).
_SECTIONS = ("model", "loss", "train", "eval")


@dataclass(frozen=True)
class Dataset:
    """A split dataset: ``train`` / ``valid`` / ``test`` CSR matrices and the raw id maps.

    ``config`` is the ``data`` section that rebuilds it (None for a frame given in memory, which
    a saved run cannot reload by itself: pass it to :meth:`Recommender.load`).
    """

    split: Split
    config: DataConfig | None = None

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        user: str = "user",
        item: str = "item",
        time: str | None = None,
        split: str = "leave-one-out",
        seed: int = 0,
    ) -> Dataset:
        """One row per interaction; split as ``data.split`` does (by time when ``time`` given)."""
        columns = {user: "user", item: "item"} | ({time: "timestamp"} if time else {})
        raw = frame[list(columns)].rename(columns=columns).drop_duplicates(["user", "item"])
        return cls(split_log(Interactions.from_raw(raw), split, seed=seed))

    @property
    def train(self) -> sp.csr_matrix:
        return self.split.train

    @property
    def valid(self) -> sp.csr_matrix:
        return self.split.valid

    @property
    def test(self) -> sp.csr_matrix:
        return self.split.test

    @property
    def user_ids(self) -> np.ndarray:
        return self.split.user_ids

    @property
    def item_ids(self) -> np.ndarray:
        return self.split.item_ids

    def __repr__(self) -> str:
        s = self.split
        name = self.config.name if self.config is not None else "in-memory frame"
        return (f"Dataset({name}: {s.n_users} users, {s.n_items} items, {s.train.nnz} train / "
                f"{s.valid.nnz} valid / {s.test.nnz} test)")


def load_dataset(
    name: str = "ml-100k", data_dir: str | Path | None = None, **data: Any
) -> Dataset:
    """A registered dataset (``ml-100k``, ``yelp2018``...) or a file/folder path, split.

    Keyword arguments are ``data:`` keys of a config (``split="ratio"``, ``user_core=5``...),
    validated as in a config file.
    """
    config = build_config({"data": {"name": name, **data}}).data
    return Dataset(load_split(config, data_dir), config)


class Recommender:
    """An implicit-feedback recommender trained with a contrastive loss (BCL by default).

    ``Recommender(model="mf", loss="bcl", dim=64, alpha=0.9, epochs=50, seed=1)``: every keyword
    is a key of the ``model``, ``loss``, ``train`` or ``eval`` section of a config (see
    docs/cli.md); a whole section can be given as a mapping (``train={"lr": 0.01}``). Invalid
    values raise the config layer's one-line :class:`~bcl_rec.errors.ConfigError`.
    """

    def __init__(self, model: str = "mf", loss: str = "bcl", **params: Any) -> None:
        self.config = _run_config(model, loss, params)
        self._run: SavedRun | None = None
        self._result: RunResult | None = None

    # --- training -------------------------------------------------------------------------

    def fit(
        self, data: Dataset | Split | sp.spmatrix, valid: sp.spmatrix | None = None
    ) -> Recommender:
        """Train on ``data`` (a :class:`Dataset`, or a user x item matrix plus ``valid``).

        Early stopping watches the validation split (``train.patience``); with a plain matrix
        and no ``valid`` it trains all ``train.epochs``. Returns ``self``.
        """
        dataset = _as_dataset(data, valid)
        config = self.config
        if dataset.config is not None:
            config = dataclasses.replace(config, data=dataset.config)
        if dataset.split.valid.nnz == 0:
            config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, patience=config.train.epochs)
            )
        result = train_run(config, split=dataset.split)
        if dataset.split.test.nnz == 0:  # a plain matrix: no test split to report on
            result.metrics["test"] = {}
        self.config, self._result = config, result
        device = torch.device(result.metrics["device"])
        self._run = SavedRun(None, config, dataset.split, result.model.eval(), device)  # type: ignore[arg-type]
        return self

    @property
    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` of the last :meth:`fit` (best epoch, valid, test, timings)."""
        return self._fitted_result().metrics

    # --- using a trained model --------------------------------------------------------------

    def evaluate(
        self,
        data: Dataset | sp.spmatrix | None = None,
        split: str = "test",
        k: Iterable[int] | None = None,
    ) -> dict[str, float]:
        """Full-ranking metrics (recall, ndcg, mrr @k, auc) on the test (or valid) split, with
        the evaluator training and ``bcl-rec evaluate`` use; seen items are excluded.

        ``data`` is the dataset fitted on (default: that of :meth:`fit` or :meth:`load`) or a
        held-out user x item matrix, ranked against the train and validation items.
        """
        run = self._fitted()
        if data is not None and sp.issparse(data):
            held = _binary(data)
            run = dataclasses.replace(run, split=dataclasses.replace(run.split, test=held))
            split = "test"
        elif data is not None:
            run = dataclasses.replace(run, split=_as_dataset(data, None).split)
        evaluator = run.evaluator(split, tuple(k) if k is not None else None)
        return evaluator.evaluate(*run.embeddings())

    def recommend(
        self, user_ids: Any, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` raw item ids and scores per raw user id: arrays ``[len(user_ids), k]``.

        ``exclude_seen`` leaves out each user's train and validation items.
        """
        run = self._fitted()
        users = [run.user_index(u) for u in np.atleast_1d(np.asarray(user_ids, dtype=object))]
        user_emb, item_emb = run.embeddings()
        seen = seen_matrix(run.split)
        ids, scores = [], []
        for u in users:
            drop = seen[u].indices if exclude_seen else np.empty(0, dtype=np.int64)
            items, s = top_items(user_emb[u], item_emb, torch.as_tensor(drop, dtype=torch.long), k)
            ids.append(run.split.item_ids[items.cpu().numpy()])
            scores.append(s.cpu().numpy())
        return np.stack(ids), np.stack(scores)

    def similar_items(self, item_ids: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items nearest each raw item id by cosine of the scoring vectors (itself
        left out): raw ids and cosines, arrays ``[len(item_ids), k]``."""
        run = self._fitted()
        _, item_emb = run.embeddings()
        unit = torch.nn.functional.normalize(item_emb, dim=1)
        ids, scores = [], []
        for raw in np.atleast_1d(np.asarray(item_ids, dtype=object)):
            i = _index(run.split.item_ids, raw, "item")
            items, s = top_items(unit[i], unit, torch.tensor([i]), k)
            ids.append(run.split.item_ids[items.cpu().numpy()])
            scores.append(s.cpu().numpy())
        return np.stack(ids), np.stack(scores)

    # --- run folders ----------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the run folder ``bcl-rec train --out`` writes (config, history, model,
        metrics); ``bcl-rec evaluate`` / ``recommend`` and :meth:`load` read it."""
        return write_run(self._fitted_result(), path)

    @classmethod
    def load(
        cls, path: str | Path, data: Dataset | None = None, data_dir: str | Path | None = None,
        device: str = "cpu",
    ) -> Recommender:
        """Reopen a run folder (from :meth:`save` or the CLI); ``data`` replaces the dataset
        its config names (needed for a model trained on an in-memory frame)."""
        if data is None:
            run = load_run(path, data_dir, device)
        else:
            run = load_run(path, data_dir, device, split=_as_dataset(data, None).split)
        rec = cls.__new__(cls)
        rec.config, rec._run, rec._result = run.config, run, None
        return rec

    def __repr__(self) -> str:
        c = self.config
        state = "fitted" if self._run is not None else "not fitted"
        return f"Recommender(model={c.model.name!r}, loss={c.loss.name!r}, {state})"

    def _fitted(self) -> SavedRun:
        if self._run is None:
            raise RuntimeError("call fit() (or Recommender.load) before using the model")
        return self._run

    def _fitted_result(self) -> RunResult:
        if self._result is None:
            raise RuntimeError("only a model trained by fit() in this session can be saved")
        return self._result


def _run_config(model: str, loss: str, params: Mapping[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of ``Recommender(...)``'s keywords, validated by the config layer."""
    from bcl_rec.config import _SECTION_TYPES

    owner = {
        f.name: section
        for section in reversed(_SECTIONS)
        for f in dataclasses.fields(_SECTION_TYPES[section])
        if f.name != "name"
    }
    raw: dict[str, Any] = {"model": {"name": model}, "loss": {"name": loss}}
    raw |= {"train": {}, "eval": {}}
    for key, value in params.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            raw[key].update(value)
        elif key in owner:
            raw[owner[key]][key] = value
        else:
            raise ConfigError(
                f"Recommender() got an unknown keyword {key!r}{did_you_mean(key, owner)}; "
                f"keywords are keys of the {', '.join(_SECTIONS)} sections (docs/cli.md)",
                key=key,
            )
    raw["train"].setdefault("progress", True)
    return build_config(raw)


def _as_dataset(data: Dataset | Split | sp.spmatrix, valid: sp.spmatrix | None) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, Split):
        return Dataset(data)
    if not sp.issparse(data):
        raise TypeError(f"fit() takes a Dataset, a Split or a scipy sparse matrix, got "
                        f"{type(data).__name__}")
    train = _binary(data)
    empty = sp.csr_matrix(train.shape, dtype=np.float32)
    n_users, n_items = train.shape
    return Dataset(Split(train, _binary(valid) if valid is not None else empty, empty,
                         np.arange(n_users), np.arange(n_items)))


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.data[:] = 1.0
    out.sort_indices()
    return out


def _index(ids: np.ndarray, raw: Any, what: str) -> int:
    matches = np.flatnonzero(ids.astype(str) == str(raw))
    if len(matches) == 0:
        raise SavedRunError(f"unknown {what} id {raw!r}: not in the data ({len(ids)} {what}s)")
    return int(matches[0])
