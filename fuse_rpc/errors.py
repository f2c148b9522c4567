"""Exceptions raised by the fuse library.

Every failure a user can cause (bad path, bad JSON, odd file) is reported as a
``FuseError`` with a message that names the input, so that the command line can
print one line and exit non-zero instead of showing a traceback.
"""
from __future__ import annotations


class FuseError(Exception):
    """Base class: a fuse run could not complete."""

    exit_code = 1


class FuseInputError(FuseError):
    """An input file is missing, unreadable or not in a format fuse understands."""


class FuseUsageError(FuseError):
    """The options make no sense together (bad axis list, missing script directory...)."""

    exit_code = 2
