"""Losses for implicit-feedback recommenders: BCL, DPL, DCL, HCL, BPR, sampled softmax, BSL,
PSL, IFND, PCL and H-SCL.

Every loss takes the scores of one observed positive, N uniformly sampled unlabeled items and
optionally M extra positives per row, and returns a :class:`LossOutput`. Build one from a
:class:`LossConfig` with :func:`build_loss`, or instantiate a class from :data:`LOSSES`.
"""

from .alpha import alpha_from_auc
from .base import LOSSES, LossOutput, RecLoss, get_loss_class, register
from .bcl import BCLLoss, BCLNCELoss
from .bcl_weights import bcl_weights, ecdf, g_cdf, g_inverse, g_pdf, weights_from_t
from .bpr import BPRLoss
from .bsl import BSLLoss
from .config import LossConfig
from .debiased import DCLLoss, HCLLoss
from .dpl import DPLLoss
from .factory import build_loss, loss_kwargs
from .hscl import HSCLLoss
from .ifnd import FalseNegativeDetector, IFNDLoss
from .kmeans import spherical_kmeans
from .pcl import PCLLoss
from .psl import PSLLoss
from .softmax import SampledSoftmaxLoss

#: The built-in loss names, in registration order: the registry as the package ships it.
#: ``loss.name`` accepts every name in :data:`LOSSES`, which :func:`register` extends.
LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)

__all__ = [
    "BCLLoss",
    "BCLNCELoss",
    "BPRLoss",
    "BSLLoss",
    "DCLLoss",
    "DPLLoss",
    "FalseNegativeDetector",
    "HCLLoss",
    "HSCLLoss",
    "IFNDLoss",
    "LOSSES",
    "LOSS_NAMES",
    "LossConfig",
    "LossOutput",
    "PCLLoss",
    "PSLLoss",
    "RecLoss",
    "SampledSoftmaxLoss",
    "alpha_from_auc",
    "bcl_weights",
    "build_loss",
    "ecdf",
    "g_cdf",
    "g_inverse",
    "g_pdf",
    "get_loss_class",
    "loss_kwargs",
    "register",
    "spherical_kmeans",
    "weights_from_t",
]
