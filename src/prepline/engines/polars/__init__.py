"""The Polars engine: lazy queries, the streaming engine, one scan feeding every output."""

from prepline.engines.polars.engine import PolarsEngine

__all__ = ["PolarsEngine"]
