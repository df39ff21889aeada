"""Typed errors shared by every part of the library.

Each error carries the process exit code the command line uses for it, so `mfmjt` and the
daemon report the same failure the same way.
"""

from __future__ import annotations


class MfmjtError(Exception):
    """Base class: a failure a person can act on, with a message that says how."""

    exit_code = 1
    code = "error"  # short machine-readable name, used on the wire by the daemon


class MediaError(MfmjtError):
    """A media file could not be used (missing, unreadable, no stream, bad range)."""

    exit_code = 3
    code = "bad_media"


class UnknownModelError(MfmjtError):
    """A model name or path that matches nothing known."""

    exit_code = 4
    code = "unknown_model"


class MissingWeightsError(MfmjtError):
    """Weights of a known model are not in the cache; the message names `mfmjt fetch`."""

    exit_code = 5
    code = "missing_weights"


class WeightsError(MfmjtError):
    """A weights file exists but is wrong: checksum mismatch, truncated, wrong keys or shapes."""

    exit_code = 6
    code = "bad_weights"


class CancelledError(MfmjtError):
    """Work stopped because the caller asked for it."""

    exit_code = 130
    code = "cancelled"


class ResourceError(MfmjtError):
    """The request does not fit (too long a range for memory, out of memory)."""

    exit_code = 7
    code = "resource"


class UsageError(MfmjtError):
    """The command line asks for something that cannot be done as given (exit 2, like argparse)."""

    exit_code = 2
    code = "usage"


def exit_code_for(code: str) -> int:
    """The command line's exit status for a protocol error code (1 when no error class has it)."""
    stack: list[type[MfmjtError]] = [MfmjtError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls.exit_code
        stack.extend(cls.__subclasses__())
    return 1
