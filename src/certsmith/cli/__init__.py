"""The ``certsmith`` command line."""
