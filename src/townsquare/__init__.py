"""Townsquare gathers a community's blogs into one place."""

__version__ = "0.1.0"
