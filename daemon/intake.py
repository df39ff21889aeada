"""From a checked `generate` message to a `GenerateRequest`: range, limits, uploads, paths."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfmjt_core.pipeline.types import GenerateRequest

from mfmjt_daemon import protocol

_PASSED_THROUGH = ("prompt", "negative_prompt", "seed", "steps", "guidance", "rescale", "temperature", "variations",
                   "sample_rate", "channels")


@dataclass(frozen=True)
class IntakeLimits:
    max_seconds: float
    max_result_bytes: int
    allow_paths: bool


def fingerprint(header: dict[str, Any]) -> str:
    """What makes two generate messages the same request (all but `req` and `x_` fields)."""
    same = {k: v for k, v in header.items() if k != "req" and not k.startswith("x_")}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()


class Uploads:
    """A private folder (mode 700) for received video bytes; removed with everything in it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="mfmjt-daemon-"))
        self._names = itertools.count(1)

    def save(self, data: memoryview, video_format: str) -> Path:
        path = self.folder / f"{next(self._names)}.{video_format}"
        with open(path, "xb") as f:
            f.write(data)
        return path

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def build_request(message: protocol.Message, fields: dict[str, Any], limits: IntakeLimits,
                  uploads: Uploads) -> tuple[GenerateRequest, Path | None]:
    """The pipeline request for a generate message, and the upload file to delete afterwards.

    Every check runs before anything is written. Raises ProtocolError.
    """
    job_id = fields["job"]

    def refuse(code: str, text: str) -> protocol.ProtocolError:
        return protocol.ProtocolError(code, text, job=job_id)

    start, end = protocol.range_seconds(fields)
    seconds = fields.get("duration") if end is None else end - (start or 0.0)
    if seconds is not None and seconds > limits.max_seconds:
        raise refuse(protocol.TOO_LARGE, f"{seconds:.1f} s is longer than this daemon's limit of "
                     f"{limits.max_seconds:.0f} s")
    has_video = "video_path" in fields or "video" in message.blobs
    if "video_path" in fields:
        video = _local_video(fields["video_path"], limits.allow_paths, refuse)
    else:
        video = Path("upload") if has_video else None  # placeholder until the checks pass
    try:
        request = GenerateRequest(video=video, start=start, end=end,
                                  duration=None if has_video else fields.get("duration"),
                                  **{k: fields[k] for k in _PASSED_THROUGH if k in fields})
    except (ValueError, TypeError) as exc:
        raise refuse(protocol.BAD_REQUEST, str(exc)) from None
    if seconds is not None:
        nbytes = request.variations * request.channels * request.sample_rate * seconds * 4
        if nbytes > limits.max_result_bytes:
            raise refuse(protocol.TOO_LARGE, f"the result would be {nbytes / 2**20:.0f} MiB, over this "
                         f"daemon's limit of {limits.max_result_bytes / 2**20:.0f} MiB")
    if "video" not in message.blobs:
        return request, None
    upload = uploads.save(message.blobs["video"], fields.get("video_format", "mp4"))
    return dataclasses.replace(request, video=upload), upload


def _local_video(path: str, allowed: bool, refuse) -> Path:
    if not allowed:
        raise refuse(protocol.BAD_REQUEST, "this daemon does not read local paths; send the video bytes")
    video = Path(path)
    if not video.is_absolute():
        raise refuse(protocol.BAD_REQUEST, "'video_path' must be absolute")
    if not video.is_file():
        raise refuse("bad_media", f"{path} is not a file on the daemon's machine")
    return video
