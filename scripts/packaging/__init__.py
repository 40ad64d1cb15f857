"""The installable package's build backend (pyproject.toml: `backend-path`): pip loads `backend` from here."""
