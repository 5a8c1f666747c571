"""The ``ioc`` command line."""
