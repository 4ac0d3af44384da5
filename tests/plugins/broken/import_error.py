"""Sample broken plugin: fails at import."""

import chisel_no_such_module  # noqa: F401
