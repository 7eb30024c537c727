"""Paper reproductions and speed measurements (run as ``python -m benchmarks.<name>``)."""
