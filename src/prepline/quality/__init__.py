"""Data quality: column profiles and drift between two profiles."""

from prepline.quality.drift import ColumnDrift, DriftResult, check_drift, drift
from prepline.quality.profile import (
    PROFILE_FILE,
    PROFILE_VERSION,
    load_profile,
    profile_file,
    profile_frame,
    profile_run,
    profile_source,
    write_profiles,
)

__all__ = [
    "PROFILE_FILE",
    "PROFILE_VERSION",
    "ColumnDrift",
    "DriftResult",
    "check_drift",
    "drift",
    "load_profile",
    "profile_file",
    "profile_frame",
    "profile_run",
    "profile_source",
    "write_profiles",
]
