"""The core the Lambda image runs: the artifact's schema, the request and response types, the predictions and
the service's contract. Standard library only; nothing here imports the trainer or the SDK."""

from typing import Final

__version__: Final = "1.0.0"  # the distribution's (pyproject.toml reads it here)
