"""What people run while developing: the local service (``./scripts/serve``) and what it stands on."""
