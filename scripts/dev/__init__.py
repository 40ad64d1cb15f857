"""Run by people while developing: the local service (`./scripts/serve`) and what it stands on: API
Gateway's proxy integration, the image-equivalent directory, the Lambda Runtime Interface Emulator. The
tests use the same pieces."""
