"""sysdig's filter language: `compile_filter(text, registry)` → `CompiledFilter` (see compile.py)."""

from .compile import CompiledFilter, compile_filter
from .parse import FilterError, fields_of, parse

__all__ = ["CompiledFilter", "FilterError", "compile_filter", "fields_of", "parse"]
