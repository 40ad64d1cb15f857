"""The served model, loaded once at init through the shared schema, fail-closed: an invalid artifact raises
during import, so the init fails and the function never answers with a bad model (the deployment's checks
see it, and the previous version keeps serving)."""

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
