"""`tracking:` in a config: where runs are tracked (`tfmm.tracking.Tracker` logs them).

Example:

>>> from tfmm.schema import build
>>> build(TrackingConfig, {"mlflow": "sqlite:///mlflow.db"}, "tracking.").experiment is None
True
"""

from dataclasses import dataclass
from typing import Optional

from tfmm.schema import ConfigError


@dataclass(frozen=True)
class TrackingConfig:
    """Where runs are tracked."""

    # An MLflow tracking URI (sqlite:///mlflow.db, http://host:5000, a folder); null: off.
    mlflow: Optional[str] = None
    # The MLflow experiment; null: the config's `name`.
    experiment: Optional[str] = None
    # Where a new experiment keeps its artifacts (a folder or a URI); null: MLflow's
    # default for the tracking URI (for a database, ./mlruns under the working folder).
    artifact_location: Optional[str] = None

    def validate(self, path):
        if self.mlflow is not None and not self.mlflow.strip():
            raise ConfigError(f"{path}.mlflow: a tracking URI or null. Received: ''")
