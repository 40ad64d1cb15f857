"""The served model: loaded once, at init, through the shared artifact schema, and never served if invalid.

Fail closed: :func:`load_model` raises :class:`model.core.artifact.ArtifactError` for a missing, corrupt,
tampered (checksum), unsupported (schema version), non-finite or below-gate artifact, and the handler
module calls it at import time. An exception during import fails the Lambda init phase, so the function
never answers a request with a bad model: the deployment's health check and the canary alarm see it
instead (and the previous version keeps serving).
"""

from __future__ import annotations

from pathlib import Path

from lambda_fn.observability import logger
from model.core.artifact import ArtifactError, ModelArtifact
from model.core.serving import load_artifact, served_artifact_path


def load_model(path: Path | None = None) -> ModelArtifact:
    path = served_artifact_path() if path is None else path
    try:
        model = load_artifact(path)
    except ArtifactError as error:
        logger.error(
            "model artifact rejected; refusing to start",
            extra={"path": str(path)[:500], "reason": str(error)[:2000]},
        )
        raise
    logger.info(
        "model loaded",
        extra={"path": str(path), "model_version": model.model_version, "artifact_sha256": model.sha256},
    )
    return model
