"""One method per module."""
