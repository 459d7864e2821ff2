"""prepline: declarative preprocessing recipes, run locally or as SageMaker Processing jobs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prepline")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
