"""``python -m model.train``: the command ``diabetes-progression train``, the same parser and the same run."""

import sys

from ..sdk.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
