"""The prediction function. Importing any of its modules first defers the initialisation of two Powertools
packages (see :mod:`lambda_fn.lazy_imports`): it must happen before anything imports them."""

from typing import Final

from lambda_fn.lazy_imports import defer_package_init

# What the image holds under ${LAMBDA_TASK_ROOT}, as paths (globs) relative to the repository root, each at
# the same path there: the Dockerfile's COPY lines and .dockerignore list exactly these (a unit test checks
# it), and the local image-equivalent tree (scripts/dev/image_root.py) is built from them.
IMAGE_SOURCES: Final = (
    "lambda_fn/*.py",
    "model/__init__.py",
    "model/core/*.py",
    "model/artifacts/model.json",
)

defer_package_init("aws_lambda_powertools.event_handler")
defer_package_init("aws_lambda_powertools.utilities.data_classes")
