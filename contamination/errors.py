"""Typed errors of the contamination package. Each message names the problem, the limit and what to do next.

They derive from the core's `FmsearchError` (and `ValueError`), so the CLI prints them as one error line and the
service maps them to 4xx in the same place as the core's errors.
"""

from __future__ import annotations

from fmsearch.errors import FmsearchError


class ContaminationError(FmsearchError, ValueError):
    """Base class of the errors this package raises on purpose."""


class InvalidParams(ContaminationError):
    """Window length, step rule or thresholds are out of range."""


class EmptyEntry(ContaminationError):
    """An entry's checked text is empty or not a string (the message names the entry)."""


class EntryTooLong(ContaminationError):
    """An entry's text is over the size limit (the message names the entry and the limit)."""


class BenchmarkError(ContaminationError):
    """A benchmark spec or its data is unusable: missing field, empty texts, unknown split, file too large, ..."""


class ConfigError(ContaminationError):
    """A bulletin config is malformed (the message names the file and the key)."""
