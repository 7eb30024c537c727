"""The error every backend raises for a data-parallel setup it cannot train correctly."""


class DistributionNotSupportedError(RuntimeError):
    """Data-parallel training this backend's multi-role step does not do correctly."""
