"""bcl-rec: debiased contrastive losses for implicit-feedback recommenders."""

__version__ = "0.1.0"
