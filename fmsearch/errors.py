"""Typed errors of the core. Every message names the problem and, where there is one, the limit.

The service maps these to HTTP statuses in one place; the core never knows about HTTP.
"""

from __future__ import annotations


class FmsearchError(Exception):
    """Base class of every error the core raises on purpose."""


class InvalidQuery(FmsearchError, ValueError):
    """A query is empty, contains byte 0xFF, is not UTF-8 text or bytes, or is longer than the limit."""


class QueryTooLong(InvalidQuery):
    """A query is longer than the configured limit (the message names both lengths)."""


class InvalidDocument(FmsearchError, IndexError):
    """A document id or byte range is outside the index."""


class InputError(FmsearchError, ValueError):
    """The build input is malformed (the message names the file and the line) or over a limit."""


class IndexFormatError(FmsearchError):
    """An index directory is missing, truncated, corrupted or of another format version."""


class ChecksumMismatch(IndexFormatError):
    """A file's checksum differs from the one its manifest recorded."""


class UnsupportedVersion(IndexFormatError):
    """An index was written by a format version this code cannot read (the message names both)."""


class IndexExists(FmsearchError, FileExistsError):
    """The output directory of a build already holds an index; nothing was overwritten."""
