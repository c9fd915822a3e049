"""Errors shared across bcl-rec's packages."""


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""
