"""Hand prepline's outputs to SageMaker Feature Store.

``definitions`` turns a dataframe schema into feature definitions (and values into
Feature Store text); ``source`` reads a data file or a prepline output; ``ingest``
creates or checks a feature group and puts the records into it.
"""

from prepline.features.definitions import (
    FeatureDefinition,
    FeatureSchema,
    add_event_time,
    as_text,
    derive_definitions,
    feature_type,
)
from prepline.features.ingest import FeatureStoreIngestor, GroupCheck, IngestResult
from prepline.features.source import read_output

__all__ = [
    "FeatureDefinition",
    "FeatureSchema",
    "FeatureStoreIngestor",
    "GroupCheck",
    "IngestResult",
    "add_event_time",
    "as_text",
    "derive_definitions",
    "feature_type",
    "read_output",
]
