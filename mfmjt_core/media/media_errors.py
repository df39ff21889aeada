"""Finer media errors. All are `MediaError`, so callers may catch the family or one case.

They keep `MediaError.code` ("bad_media") so the daemon's wire codes stay as they are; the
finer case is in `reason`.
"""

from __future__ import annotations

from mfmjt_core.errors import MediaError


class MediaNotFoundError(MediaError):
    """The path does not exist, or is not a regular file."""

    reason = "media_not_found"


class MediaUnreadableError(MediaError):
    """The file is not a media file, or its container or streams are damaged."""

    reason = "media_unreadable"


class NoVideoStreamError(MediaError):
    """The file has no video stream (cover art in audio files does not count)."""

    reason = "no_video_stream"


class NoAudioStreamError(MediaError):
    """The file has no audio stream."""

    reason = "no_audio_stream"


class RangeOutsideMediaError(MediaError):
    """The requested time range starts before 0 or at/after the end of the media."""

    reason = "range_outside_media"


class EmptyRangeError(MediaError):
    """The requested time range has zero or negative duration."""

    reason = "empty_range"


class MediaWriteError(MediaError):
    """An output file could not be written (folder missing, not writable, encoder refused).

    Exit 1 (a failure), not 3: the input media was fine. Names found wrong before any work are
    usage errors (exit 2) instead, and a full disk a ResourceError (exit 7)."""

    reason = "media_write_failed"
    exit_code = 1
