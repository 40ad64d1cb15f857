"""The prediction function. Importing any of its modules first defers the initialisation of two Powertools
packages (see :mod:`lambda_fn.lazy_imports`): it must happen before anything imports them."""

from lambda_fn.lazy_imports import defer_package_init

defer_package_init("aws_lambda_powertools.event_handler")
defer_package_init("aws_lambda_powertools.utilities.data_classes")
