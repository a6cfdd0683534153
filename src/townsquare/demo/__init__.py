"""Bundled sample blogs for the demo and tests."""
