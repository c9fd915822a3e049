"""bcl-rec's models and losses inside RecBole 1.2.1 (``pip install 'bcl-rec[recbole]'``).

``BCLMF`` and ``BCLLightGCN`` are RecBole ``GeneralRecommender`` models trained with any bcl-rec
loss (``loss: {name: bcl, ...}``); :func:`run` runs RecBole's own pipeline with them, and
:func:`load_data_and_model` reloads its checkpoints. Importing this package applies the small
compatibility fixes in :mod:`.compat` (listed in ``compat.PATCHES``) so RecBole 1.2.1 runs on
numpy >= 2, pandas >= 3 and torch >= 2.6.
"""

from bcl_rec.integrations.recbole._require import require_recbole

__recbole_version__ = require_recbole()

from bcl_rec.integrations.recbole.compat import PATCHES, apply_patches  # noqa: E402

apply_patches()

from bcl_rec.integrations.recbole.checkpoint import (  # noqa: E402
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from bcl_rec.integrations.recbole.layout import pairwise_rows  # noqa: E402
from bcl_rec.integrations.recbole.models import (  # noqa: E402
    BCLMF,
    MODELS,
    BCLLightGCN,
    BCLRecommender,
)
from bcl_rec.integrations.recbole.runner import (  # noqa: E402
    ExplicitConfig,
    build_config,
    load_data_and_model,
    run,
)
from bcl_rec.integrations.recbole.trainer import Trainer, trainer_class  # noqa: E402

__all__ = [
    "BCLLightGCN",
    "BCLMF",
    "BCLRecommender",
    "CheckpointError",
    "ExplicitConfig",
    "MODELS",
    "PATCHES",
    "Trainer",
    "apply_patches",
    "build_config",
    "load_checkpoint",
    "load_data_and_model",
    "pairwise_rows",
    "run",
    "save_checkpoint",
    "trainer_class",
]
