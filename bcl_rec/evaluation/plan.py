"""How many users the evaluator scores at once, from a memory budget and the cache size.

Scores are computed in tiles ``[n_items, width]`` (one column per user) by one matrix product.
A tile costs ``width * bytes_per_user(n_items, dim, several)`` bytes: the float32 scores, the
users' embedding rows and, when users have several held-out items, a second tile of comparison
flags (the first held-out item's flags overwrite the scores; the others need them intact). On
the CPU the default width also keeps the tile near the last-level cache, where comparing and
counting is several times faster than from main memory; on CUDA only the budget limits it.

The width is at least :data:`MIN_WIDTH`. CPU BLAS products narrower than about 16 columns use
other kernels and round differently, so a narrower tile would make ranks (near ties) depend on
the batch size; a tile with fewer users is padded with zero columns instead. (cuBLAS chooses
kernels by shape, so on CUDA results repeat exactly for a given width, not across widths.)

Users with one held-out item are scored in blocks ``[block_rows, block_width]`` instead: on the
CPU :data:`CPU_BLOCK_ROWS` item rows (the whole catalogue if it is smaller) by as many users as
fit :data:`CPU_BLOCK_BYTES` (and the budget), so that a block is compared and counted while it is
in cache; on CUDA one block is the whole catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Smallest tile width (columns of the score product).
MIN_WIDTH = 16
#: Bytes of scores per CPU tile by default: about a share of a server's last-level cache.
CPU_TILE_BYTES = 8 * 2**20
#: Item rows per CPU score block: users with one held-out item are scored, compared and counted
#: block by block, each block small enough to stay in a core's cache.
CPU_BLOCK_ROWS = 4096
#: Bytes of one CPU score block by default (its width in users follows).
CPU_BLOCK_BYTES = 4 * 2**20


def bytes_per_user(n_items: int, dim: int, several: bool = False) -> int:
    """Tile bytes per user column: float32 scores (twice with ``several`` held-out items per
    user), the user's row."""
    return 4 * n_items * (2 if several else 1) + 4 * dim


@dataclass(frozen=True)
class TilePlan:
    """Users per tile (``users``), columns of the product (``width``), and the workspace bytes.

    ``block_rows``: item rows per score block (the whole catalogue on CUDA and for catalogues
    that fit one block); ``block_users`` / ``block_width``: users and columns of the blocks of
    users with one held-out item.
    """

    users: int
    width: int
    workspace_bytes: int
    block_rows: int = 0
    block_users: int = 0
    block_width: int = 0


def plan_tiles(
    n_items: int,
    dim: int,
    device: torch.device,
    users_per_batch: int | None = None,
    max_memory_mb: float = 256.0,
    n_users: int | None = None,
    several: bool = False,
) -> TilePlan:
    """The tile for ``users_per_batch`` users, or the widest the budget (and cache) allows,
    never wider than needed for ``n_users`` users. ``several``: some user has more than one
    held-out item.

    Raises ``ValueError`` when even a :data:`MIN_WIDTH`-column tile exceeds ``max_memory_mb``.
    """
    per_user = bytes_per_user(n_items, dim, several)
    budget = int(max_memory_mb * 2**20)
    if users_per_batch is not None:
        if users_per_batch < 1:
            raise ValueError(f"eval.users_per_batch must be >= 1, got {users_per_batch}")
        users = int(users_per_batch)
    else:
        users = budget // per_user
        if device.type == "cpu":
            users = min(users, max(CPU_TILE_BYTES // (4 * max(n_items, 1)), MIN_WIDTH))
        if users < MIN_WIDTH:
            need = MIN_WIDTH * per_user / 2**20
            raise ValueError(
                f"eval.max_memory_mb={max_memory_mb:g} is too small for {n_items} items: one "
                f"tile of {MIN_WIDTH} users needs {need:.1f} MB"
            )
    if n_users is not None:
        users = max(1, min(users, n_users))
    width = max(MIN_WIDTH, users)
    block_rows = min(n_items, CPU_BLOCK_ROWS) if device.type == "cpu" else n_items
    block_rows = max(block_rows, 1)
    per_block_user = 4 * block_rows + 4 * dim
    block_users = users
    if users_per_batch is None and block_rows < n_items:
        block_users = max(users, min(CPU_BLOCK_BYTES // (4 * block_rows), budget // per_block_user))
        if n_users is not None:
            block_users = max(1, min(block_users, n_users))
    block_width = max(MIN_WIDTH, block_users)
    tiles = width * per_user if several else 0  # full tiles: only users with several items
    padded = 4 * block_rows * width if several and n_items % block_rows else 0
    blocks = block_width * per_block_user
    return TilePlan(users=users, width=width, workspace_bytes=max(tiles + padded, blocks),
                    block_rows=block_rows, block_users=block_users, block_width=block_width)
