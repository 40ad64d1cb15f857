"""``python -m diabetes_progression`` (``python -m model`` in the repository): the command line."""

import sys

from .sdk.cli import main

sys.exit(main())
