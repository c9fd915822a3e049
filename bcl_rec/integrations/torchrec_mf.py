"""MF whose user and item tables are sharded across processes by TorchRec (the ``torchrec`` extra).

When the embedding tables do not fit one device, each process holds only its share of them:
TorchRec's planner assigns tables (table-wise: the CPU's only choice besides column-wise; on
CUDA also row-wise) to ranks, lookups travel by all-to-all, and the optimiser runs fused inside
the backward pass on the rows a batch touched (so TorchRec's Adam is row-sparse, unlike
``torch.optim.Adam`` over dense tables). Gradients are averaged over ranks, as in DDP: with each
rank's loss the mean over its rows of an equal split, a step is the global batch's step.

Install: ``pip install --no-deps torchrec==1.8.0 fbgemm-gpu-cpu==1.8.0`` next to torch 2.13 plus
torchrec's pure-Python requirements (``pip install pyre-extensions tensordict torchmetrics``):
``pip install torchrec`` alone also pulls the CUDA build ``fbgemm-gpu``, which shares the
``fbgemm_gpu`` folder with ``fbgemm-gpu-cpu`` and fails to load on a machine without CUDA.
"""

from __future__ import annotations

import torch
from torch import nn

from bcl_rec.models.base import init_embedding_, pair_scores


def _require() -> None:
    try:
        import torchrec  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "TorchRec-sharded MF needs torchrec 1.8 with fbgemm-gpu-cpu 1.8 (torch 2.13): "
            "pip install --no-deps torchrec==1.8.0 fbgemm-gpu-cpu==1.8.0 && "
            "pip install pyre-extensions tensordict torchmetrics"
        ) from err


class TorchRecMF(nn.Module):
    """``s_ui = <e_u, e_i>`` with the tables in a TorchRec ``EmbeddingCollection``
    (``user`` and ``item``), initialised exactly as :class:`bcl_rec.models.mf.MF` from
    ``generator`` (user table first)."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        init: str = "xavier",
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        _require()
        from torchrec import EmbeddingCollection, EmbeddingConfig

        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.tables = EmbeddingCollection(
            tables=[
                EmbeddingConfig(name="user", embedding_dim=dim, num_embeddings=n_users,
                                feature_names=["user"]),
                EmbeddingConfig(name="item", embedding_dim=dim, num_embeddings=n_items,
                                feature_names=["item"]),
            ],
            device=torch.device("cpu"),
        )
        for name in ("user", "item"):
            init_embedding_(self.tables.embeddings[name].weight, init, init_std, generator)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, K]`` of items ``[B, K]`` for users ``[B]``."""
        from torchrec import KeyedJaggedTensor

        batch, k = items.shape
        kjt = KeyedJaggedTensor.from_lengths_sync(
            keys=["user", "item"],
            values=torch.cat([users, items.reshape(-1)]),
            lengths=torch.cat([torch.ones(batch, dtype=torch.long),
                               torch.full((batch,), k, dtype=torch.long)]),
        )
        out = self.tables(kjt)
        user_vecs = out["user"].values()
        item_vecs = out["item"].values().view(batch, k, self.dim)
        return pair_scores(user_vecs, item_vecs)


def shard(
    model: TorchRecMF,
    optimizer: type[torch.optim.Optimizer],
    optimizer_kwargs: dict,
    sharding_type: str = "table_wise",
    device: torch.device | None = None,
) -> nn.Module:
    """``model`` with its tables sharded over the default process group (``sharding_type``:
    ``table_wise``, ``column_wise``; ``row_wise`` on CUDA) and ``optimizer`` fused into the
    backward pass. Every rank calls this with the same model; call the result like the model."""
    _require()
    import torch.distributed as dist
    from torch.distributed.optim import _apply_optimizer_in_backward
    from torchrec.distributed.embedding import EmbeddingCollectionSharder
    from torchrec.distributed.model_parallel import DistributedModelParallel
    from torchrec.distributed.planner import EmbeddingShardingPlanner, Topology
    from torchrec.distributed.planner.types import ParameterConstraints

    device = device or torch.device("cpu")
    _apply_optimizer_in_backward(optimizer, model.tables.parameters(), optimizer_kwargs)
    constraints = {name: ParameterConstraints(sharding_types=[sharding_type])
                   for name in ("user", "item")}
    planner = EmbeddingShardingPlanner(
        topology=Topology(world_size=dist.get_world_size(), compute_device=device.type),
        constraints=constraints,
    )
    sharder = EmbeddingCollectionSharder()
    plan = planner.collective_plan(model, [sharder], dist.GroupMember.WORLD)
    return DistributedModelParallel(model, device=device, plan=plan, sharders=[sharder])


def local_tables(sharded: nn.Module) -> dict[str, torch.Tensor]:
    """The table shards this rank holds: ``{"user" | "item": rows}`` (only the ones it owns)."""
    held = {}
    for key, value in sharded.state_dict().items():
        for part in getattr(value, "local_shards", list)():
            held["user" if key.endswith("user.weight") else "item"] = part.tensor
    return held
