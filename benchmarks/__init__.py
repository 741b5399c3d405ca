"""The benchmarks: scripts beside the package, run from the repository's root as
``python -m benchmarks.NAME`` or ``python benchmarks/NAME.py`` (docs/benchmarks.md)."""
