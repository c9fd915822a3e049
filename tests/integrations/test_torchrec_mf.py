"""TorchRec-sharded MF on 2 gloo processes: each holds one table, and steps are the dense ones."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("torchrec", reason="needs torchrec (see bcl_rec/integrations/torchrec_mf.py)")

import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from bcl_rec.config import load_config  # noqa: E402
from bcl_rec.integrations.torchrec_mf import TorchRecMF, local_tables, shard  # noqa: E402
from bcl_rec.losses import build_loss  # noqa: E402
from bcl_rec.models.mf import MF  # noqa: E402

N_USERS, N_ITEMS, DIM, LR, WORLD = 12, 9, 4, 0.5, 2
USERS = torch.tensor([0, 3, 5, 7, 8, 11])  # the global batch; rank r takes rows 3r..3r+2
ITEMS = torch.tensor([[1, 0, 4, 6], [2, 3, 5, 8], [0, 7, 1, 2],
                      [4, 5, 6, 7], [8, 1, 0, 3], [6, 2, 7, 5]])  # positive first, then N = 3


def bcl_loss(scores: torch.Tensor) -> torch.Tensor:
    cfg = load_config(None, ["loss.name=bcl", "loss.num_negatives=3"])
    return build_loss(cfg.loss)(scores[:, 0], scores[:, 1:], None, None).loss


def _worker(rank: int, store: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        model = TorchRecMF(N_USERS, N_ITEMS, DIM, generator=torch.Generator().manual_seed(3))
        dense = MF(N_USERS, N_ITEMS, DIM, generator=torch.Generator().manual_seed(3))
        assert torch.equal(model.tables.embeddings["user"].weight.detach(), dense.user_embedding)
        sharded = shard(model, torch.optim.SGD, {"lr": LR})
        held = local_tables(sharded)
        assert list(held) == [["user", "item"][rank]]  # table-wise: one whole table per rank

        rows = slice(3 * rank, 3 * rank + 3)
        scores = sharded(USERS[rows], ITEMS[rows])
        expected = dense.score(USERS[rows], ITEMS[rows])
        torch.testing.assert_close(scores, expected, rtol=1e-6, atol=1e-6)
        bcl_loss(scores).backward()  # the SGD step runs inside the backward

        # the dense step on the global batch: mean of the two ranks' mean losses
        loss = sum(bcl_loss(dense.score(USERS[3 * r : 3 * r + 3], ITEMS[3 * r : 3 * r + 3]))
                   for r in range(WORLD)) / WORLD
        loss.backward()
        with torch.no_grad():
            table = {"user": dense.user_embedding, "item": dense.item_embedding}
            for name, shard_rows in held.items():
                stepped = table[name] - LR * table[name].grad
                assert not torch.equal(shard_rows, table[name])  # it moved
                torch.testing.assert_close(shard_rows, stepped, rtol=1e-5, atol=1e-6)
    finally:
        dist.destroy_process_group()


def test_sharded_tables_score_and_step_like_dense_mf(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "store"),), nprocs=WORLD)
