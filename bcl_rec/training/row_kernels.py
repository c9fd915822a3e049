"""Compiled CPU kernels for the two row-random steps of a large-log MF step (the ``fast`` extra).

On a log whose tables no longer fit the cache, an MF step is bound by random row traffic, not
arithmetic (docs/scale.md): the row-sparse Adam update reads and writes each touched row of a
table and of its two moments, and the unlabeled sampler searches the train positives. Written
as torch operations, each of these passes over the rows several times (``unique``, gathers, one
scatter per tensor) and waits for one cache miss after another. The kernels
(:mod:`bcl_rec.training.compiled_rows`) touch each row once and ask for the rows a few steps
ahead (``llvm.prefetch``), so the misses overlap. They do the arithmetic of the torch forms they
replace, in the same order (the sampler's items are the same integers; Adam's weights can differ
by an ulp where torch's vectorised ``sqrt`` is not correctly rounded). Large calls split their
rows across torch's intra-op threads (:func:`threads`), with the serial result bit for bit. The
torch forms stay the path when numba is not installed (``pip install 'bcl-rec[fast]'``) and on
CUDA.

numba is imported by :func:`load`, at the first step that uses a kernel, not when bcl-rec is
imported: it adds about half a second to every start.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import torch

AVAILABLE = importlib.util.find_spec("numba") is not None


def threads() -> int:
    """Threads a kernel call may use: torch's intra-op threads (``torch.set_num_threads``), so
    that ``--threads``-style limits hold for the kernels too."""
    return torch.get_num_threads()


def load() -> ModuleType:
    """The compiled kernels' module (``row_adam``, ``coarse_index``, ``unlabeled_items``)."""
    return importlib.import_module("bcl_rec.training.compiled_rows")
