"""What users install and call: the in-process Python API, the HTTP client of a running stage and the
``diabetes-progression`` command line."""
