"""From a checked `generate` message to a `GenerateRequest`: range, limits, uploads, paths."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfmjt_daemon import protocol
from mfmjt_daemon.uploads import Uploads

import mfmjt_schema
from mfmjt_core.pipeline.types import GenerateRequest


@dataclass(frozen=True)
class IntakeLimits:
    max_seconds: float
    max_result_bytes: int
    allow_paths: bool


def fingerprint(header: dict[str, Any]) -> str:
    """What makes two generate messages the same request (all but `req`, `token` and `x_` fields)."""
    same = {k: v for k, v in header.items() if k not in ("req", "token") and not k.startswith("x_")}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()


def build_request(message: protocol.Message, fields: dict[str, Any], limits: IntakeLimits,
                  uploads: Uploads) -> tuple[GenerateRequest, Path | None]:
    """The pipeline request for a generate message, and the upload file to delete afterwards.

    The request's cost (seconds of audio, result bytes; mfmjt_schema.cost) is checked against
    the limits before the job is queued, for every form: text, a range, a start with a
    duration, and a video to its end (whose length is probed, from the upload once it is saved).
    Raises ProtocolError; nothing is left on disk when it does.
    """
    job_id = fields["job"]

    def refuse(code: str, text: str) -> protocol.ProtocolError:
        return protocol.ProtocolError(code, text, job=job_id)

    has_video = "video_path" in fields or "video" in message.blobs
    cost = _cost(fields, has_video, None, refuse)
    _check_limits(cost, limits, refuse)
    video = _local_video(fields["video_path"], limits.allow_paths, refuse) if "video_path" in fields else None
    start, end = protocol.range_seconds(fields)
    try:
        request = GenerateRequest(video=video or (Path("upload") if has_video else None),  # placeholder for now
                                  start=start, end=end,
                                  **{f.name: fields[f.name] for f in mfmjt_schema.pipeline_fields()
                                     if f.name in fields and f.name not in ("start", "end")})
    except (ValueError, TypeError) as exc:
        raise refuse(protocol.BAD_REQUEST, str(exc)) from None
    upload = None
    if "video" in message.blobs:
        upload = uploads.save(message.blobs["video"], fields.get("video_format", "mp4"), job_id)
        request = dataclasses.replace(request, video=upload)
    if cost.seconds is None:  # a video to its end: its length decides the cost
        try:
            cost = _cost(fields, True, _video_seconds(request.video, refuse), refuse)
            _check_limits(cost, limits, refuse)
        except protocol.ProtocolError:
            if upload is not None:
                with contextlib.suppress(OSError):
                    upload.unlink()
            raise
    return request, upload


def _cost(fields, has_video, video_seconds, refuse) -> mfmjt_schema.Cost:
    try:
        return mfmjt_schema.request_cost(fields, has_video=has_video, video_seconds=video_seconds)
    except mfmjt_schema.RangeError as exc:
        raise refuse("bad_media" if video_seconds is not None else protocol.BAD_REQUEST, str(exc)) from None


def _check_limits(cost: mfmjt_schema.Cost, limits: IntakeLimits, refuse) -> None:
    reason = cost.over(max_seconds=limits.max_seconds, max_result_bytes=limits.max_result_bytes)
    if reason is not None:
        raise refuse(protocol.TOO_LARGE, reason)


def _video_seconds(video: Path, refuse) -> float:
    from mfmjt_core.errors import MediaError
    from mfmjt_core.media import probe

    try:
        info = probe(video)
    except MediaError:
        raise refuse("bad_media", "the video could not be read") from None
    if not info.has_video:
        raise refuse("bad_media", "the file has no video stream")
    return float(info.duration_s)


def _local_video(path: str, allowed: bool, refuse) -> Path:
    if not allowed:
        raise refuse(protocol.BAD_REQUEST, "this daemon does not read local paths; send the video bytes")
    video = Path(path)
    if not video.is_absolute():
        raise refuse(protocol.BAD_REQUEST, "'video_path' must be absolute")
    try:  # one answer for missing, unreadable and not-a-file: nothing to learn about other paths
        if not stat.S_ISREG(os.stat(video).st_mode):  # (and never open a FIFO: it would block)
            raise OSError
        with open(video, "rb") as f:
            f.read(1)
    except (OSError, ValueError):  # ValueError: a NUL byte or a lone surrogate no file system takes
        raise refuse("bad_media", f"{path!r} cannot be read as a file on the daemon's machine") from None
    return video
