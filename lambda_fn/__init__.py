"""The prediction function. Importing any of its modules first defers Powertools' event_handler package
initialisation (see :mod:`lambda_fn.lazy_imports`): it must happen before anything imports that package."""

from lambda_fn.lazy_imports import defer_package_init

defer_package_init("aws_lambda_powertools.event_handler")
