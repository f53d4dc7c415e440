"""Persistence: the ``Store`` protocol and its backends."""
