"""From RecBole's pairwise batch rows to bcl-rec's ``[B]`` positives and ``[B, N]`` negatives.

With ``train_neg_sample_args.sample_num = N`` and a PAIRWISE model, RecBole's train loader takes
``B = train_batch_size // N`` positive interactions and tiles them N times
(``Interaction.repeat``); its sampler returns the N negatives of each positive in the same
blocks (``AbstractSampler.sample_by_key_ids``). Row ``j * B + i`` is therefore positive ``i``
with its ``j``-th negative, and the negative ids reshape to ``(N, B)``, not ``(B, N)``. Negatives
are drawn independently (an item may repeat within a row) and never from the user's train items.
"""

from __future__ import annotations

import torch


def pairwise_rows(
    users: torch.Tensor, items: torch.Tensor, neg_items: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(users [B], positives [B], negatives [B, n])`` from RecBole's ``[n * B]`` rows.

    Raises ``ValueError`` when the rows are not ``n`` identical blocks of (user, positive) pairs,
    so a change of RecBole's layout can never be read silently in the wrong order.
    """
    if n < 1:
        raise ValueError(f"the number of negatives per positive must be >= 1, got {n}")
    rows = users.shape[0]
    if rows == 0 or rows % n != 0 or items.shape[0] != rows or neg_items.shape[0] != rows:
        raise ValueError(
            f"a RecBole pairwise batch of {rows} rows cannot hold {n} negatives per positive "
            f"(items: {items.shape[0]} rows, negatives: {neg_items.shape[0]} rows)"
        )
    b = rows // n
    user_blocks, item_blocks = users.view(n, b), items.view(n, b)
    if not (torch.equal(user_blocks, user_blocks[:1].expand(n, b)) and torch.equal(
        item_blocks, item_blocks[:1].expand(n, b)
    )):
        raise ValueError(
            "RecBole's pairwise batch is not laid out as N blocks of the same B (user, positive) "
            "pairs; check train_neg_sample_args.sample_num and the RecBole version"
        )
    return users[:b], items[:b], neg_items.view(n, b).T
