"""Files starting with '_' are helpers, never loaded as plugins."""

raise AssertionError("_helper.py must not be executed by discovery")
