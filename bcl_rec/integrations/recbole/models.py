"""bcl-rec's backbones and losses as RecBole ``GeneralRecommender`` models.

``calculate_loss`` scores each positive and its N negatives and calls any bcl-rec loss
(``loss.name``). The negatives come from RecBole's own train sampler
(``train_neg_sample_args.sample_num = N``, reshaped by :func:`.layout.pairwise_rows`): the same
draws RecBole's BPR trains on, honouring ``distribution: popularity`` and ``dynamic`` sampling, and
seeded by RecBole's ``seed``. What RecBole cannot provide is sampled inside the model from the
training matrix: DPL's extra positives (``loss.num_extras``) and the catalogue-ECDF reference
scores of BCL (``loss.ecdf_source: catalogue``), from a generator seeded with ``seed``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.utils import InputType

from bcl_rec.integrations.recbole.layout import pairwise_rows
from bcl_rec.integrations.recbole.settings import (
    LIGHTGCN_DEFAULTS,
    MODEL_DEFAULTS,
    loss_config,
    negatives_per_positive,
    setting,
)
from bcl_rec.losses import LossOutput, RecLoss, build_loss
from bcl_rec.models.base import Recommender, gather, item_scores, pair_scores
from bcl_rec.models.mf import MF
from bcl_rec.sparse import TorchCSR
from bcl_rec.training.sampler import UnlabeledSampler


def refuse_trainer_only(loss_fn: RecLoss) -> None:
    """Reject losses that need bcl-rec's trainer: per-row item ids or embeddings, or an epoch
    hook (IFND, PCL, H-SCL with IFND masks); RecBole's trainer provides neither."""
    if loss_fn.needs_items or loss_fn.needs_vectors or loss_fn.needs_epoch_hook:
        raise ValueError(
            f"loss.name = {loss_fn.name!r} (with these settings) needs bcl-rec's own trainer "
            "(`bcl-rec train`): it uses the rows' item ids, embeddings or an epoch hook, which "
            "the RecBole integration does not provide"
        )


class BCLRecommender(GeneralRecommender):
    """Shared RecBole glue: one bcl-rec :class:`Recommender` backbone and one bcl-rec loss."""

    input_type = InputType.PAIRWISE
    defaults: ClassVar[dict[str, Any]] = MODEL_DEFAULTS

    def __init__(self, config: Any, dataset: Any) -> None:
        super().__init__(config, dataset)
        self.num_negatives = negatives_per_positive(config)
        self.loss_config = loss_config(config, self.num_negatives)
        self.loss_fn = build_loss(
            self.loss_config, embedding_dim=int(self.setting(config, "embedding_size"))
        )
        refuse_trainer_only(self.loss_fn)
        self.seed = int(config["seed"] or 0)
        train = dataset.inter_matrix(form="csr").astype(np.float32)
        train.data[:] = 1.0
        self.train_matrix: sp.csr_matrix = train
        dim = int(self.setting(config, "embedding_size"))
        _draw_like_recbole_embeddings(self.n_users, self.n_items, dim)
        self.backbone: Recommender = self.build_backbone(config, train)
        self.last_stats: dict[str, torch.Tensor] = {}
        self._eval_cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self._samplers: dict[str, Any] = {}

    def build_backbone(self, config: Any, train: sp.csr_matrix) -> Recommender:
        """The bcl-rec model over RecBole's ids (row/column 0 is RecBole's padding id)."""
        raise NotImplementedError

    def setting(self, config: Any, key: str) -> Any:
        return setting(config, key, self.defaults)

    # --- training -----------------------------------------------------------------------------
    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        users, pos_items, neg_items = pairwise_rows(
            interaction[self.USER_ID],
            interaction[self.ITEM_ID],
            interaction[self.NEG_ITEM_ID],
            self.num_negatives,
        )
        out = self.loss_on(users, pos_items, neg_items)
        self.last_stats = {k: v.detach() for k, v in out.stats.items()}
        return out.loss

    def loss_on(
        self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor
    ) -> LossOutput:
        """bcl-rec's loss for users ``[B]``, positives ``[B]`` and negatives ``[B, N]``."""
        user_emb, item_emb = self.backbone.scoring_embeddings()
        u = gather(user_emb, users)
        pos = pair_scores(u, gather(item_emb, pos_items))
        neg = item_scores(u, item_emb, neg_items)
        extra = None
        if self.loss_config.num_extras > 0:
            extra_items = self._sampler("positives", users.device).positives(
                users, self.loss_config.num_extras, self._generator(users.device)
            )
            extra = item_scores(u, item_emb, extra_items)
        ref = self.reference_scores(users, u, item_emb) if self.loss_fn.uses_reference else None
        return self.loss_fn(pos, neg, extra, ref)

    @torch.no_grad()
    def reference_scores(
        self, users: torch.Tensor, u: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        """Scores for the catalogue ECDF: K sampled unlabeled items, or all with +inf on the rest.

        "The rest" is each user's train items and RecBole's padding item 0.
        """
        u, item_emb = u.detach(), item_emb.detach()
        k = self.loss_config.ecdf_sample
        if k is not None:
            items = self._sampler("unlabeled", users.device).unlabeled(
                users, k, self._generator(users.device)
            )
            return pair_scores(u, gather(item_emb, items))
        scores = u @ item_emb.T
        rows, cols, _ = self._sampler("csr", users.device).rows_of(users)
        scores[rows, cols] = math.inf
        scores[:, 0] = math.inf
        return scores

    def _sampler(self, kind: str, device: torch.device) -> Any:
        key = f"{kind}:{device}"
        if key not in self._samplers:
            if kind == "positives":
                self._samplers[key] = UnlabeledSampler(self.train_matrix, device)
            else:
                seen = self.train_matrix.tolil()
                seen[:, 0] = 1.0  # the padding item is never an unlabeled item
                seen = seen.tocsr()
                factory = UnlabeledSampler if kind == "unlabeled" else TorchCSR
                self._samplers[key] = factory(seen, device)
        return self._samplers[key]

    def _generator(self, device: torch.device) -> torch.Generator:
        key = f"generator:{device}"
        if key not in self._samplers:
            self._samplers[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self._samplers[key]

    # --- evaluation ---------------------------------------------------------------------------
    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The backbone's scoring embeddings; computed once per evaluation (graph models
        propagate, cosine normalises)."""
        if self.training:
            return self.backbone.scoring_embeddings()
        if self._eval_cache is None:
            with torch.no_grad():
                user_emb, item_emb = self.backbone.scoring_embeddings()
            self._eval_cache = (user_emb.detach(), item_emb.detach())
        return self._eval_cache

    def train(self, mode: bool = True) -> BCLRecommender:
        self._eval_cache = None
        return super().train(mode)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        self._eval_cache = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def predict(self, interaction: Any) -> torch.Tensor:
        user_emb, item_emb = self.embeddings()
        users, items = interaction[self.USER_ID], interaction[self.ITEM_ID]
        return pair_scores(user_emb[users], item_emb[items])

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        user_emb, item_emb = self.embeddings()
        return (user_emb[interaction[self.USER_ID]] @ item_emb.T).reshape(-1)


class BCLMF(BCLRecommender):
    """Matrix factorisation (bcl-rec's :class:`~bcl_rec.models.MF`) trained with a bcl-rec loss.

    Keys: ``embedding_size`` (64), ``init`` (``xavier``), ``init_std`` (0.1), ``score``
    (``dot`` or ``cosine``, as ``model.score``), ``loss`` (a
    mapping of :class:`~bcl_rec.losses.LossConfig` fields, default BCL) and RecBole's
    ``train_neg_sample_args.sample_num`` (N).
    """

    def build_backbone(self, config: Any, train: sp.csr_matrix) -> Recommender:
        return MF(
            self.n_users,
            self.n_items,
            dim=int(self.setting(config, "embedding_size")),
            init=str(self.setting(config, "init")),
            init_std=float(self.setting(config, "init_std")),
            score=str(self.setting(config, "score")),
        )


class BCLLightGCN(BCLRecommender):
    """LightGCN (bcl-rec's :class:`~bcl_rec.models.LightGCN`) trained with a bcl-rec loss.

    Keys as :class:`BCLMF`, plus ``n_layers`` (2) and ``layer_weights`` (``n_layers + 1``
    weights; default their mean). The graph is RecBole's training interaction matrix.
    """

    defaults: ClassVar[dict[str, Any]] = {**MODEL_DEFAULTS, **LIGHTGCN_DEFAULTS}

    def build_backbone(self, config: Any, train: sp.csr_matrix) -> Recommender:
        from bcl_rec.models.lightgcn import LightGCN

        weights = self.setting(config, "layer_weights")
        return LightGCN(
            self.n_users,
            self.n_items,
            train,
            dim=int(self.setting(config, "embedding_size")),
            layers=int(self.setting(config, "n_layers")),
            layer_weights=None if weights is None else [float(w) for w in weights],
            init=str(self.setting(config, "init")),
            init_std=float(self.setting(config, "init_std")),
            score=str(self.setting(config, "score")),
        )


def _draw_like_recbole_embeddings(n_users: int, n_items: int, dim: int) -> None:
    """Advance the global torch RNG as RecBole's embedding models do before their own init.

    RecBole's BPR creates ``nn.Embedding(n_users, d)`` and ``nn.Embedding(n_items, d)`` (each
    draws N(0, 1)) and then redraws them with Xavier-normal. Drawing the same two tables first
    makes bcl-rec's Xavier-normal init, which follows, take exactly the weights BPR starts from
    under the same ``seed``: a comparison of losses is then paired on the initial weights too.
    """
    with torch.no_grad():
        torch.empty(n_users, dim).normal_()
        torch.empty(n_items, dim).normal_()


#: The models by the name RecBole's ``config["model"]`` holds.
MODELS: dict[str, type[BCLRecommender]] = {"BCLMF": BCLMF, "BCLLightGCN": BCLLightGCN}

__all__ = ["BCLLightGCN", "BCLMF", "BCLRecommender", "MODELS"]
