"""What a request costs: its range, seconds of audio, samples and result bytes, for every form.

Forms: text (`duration`), a video range (`start`/`end`, or frames with `fps`), a video from
`start` for `duration` seconds, and a video to its end (no `end`: from 0 or from `start`), whose
length only the video knows; the daemon's intake probes it and passes `video_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BYTES_PER_SAMPLE = 4  # float32 on the wire and in memory


class RangeError(ValueError):
    """A range that cannot be: empty, given twice, or needing a video it does not have."""


def sample_count(seconds: float, sample_rate: int) -> int:
    """Samples per channel of `seconds` of audio: round(rate x seconds), the protocol's rule."""
    return round(sample_rate * seconds)


@dataclass(frozen=True)
class Cost:
    """A request's size. `seconds` and what follows from it are None while the length is unknown
    (a video to its end whose length was not given)."""

    start: float  # seconds into the video (0 for text)
    end: float | None  # None: the end of the video
    seconds: float | None
    samples: int | None  # per channel and variation
    result_bytes: int | None  # variations x channels x samples x 4
    variations: int
    channels: int
    sample_rate: int

    def over(self, *, max_seconds: float | None = None, max_result_bytes: int | None = None) -> str | None:
        """Why the request is over a limit (a sentence naming the limit), or None if it fits."""
        if self.seconds is not None and max_seconds is not None and self.seconds > max_seconds:
            return (f"{self.seconds:.3f} s of audio is longer than the limit of {max_seconds:g} s "
                    "(max_seconds)")
        if self.result_bytes is not None and max_result_bytes is not None and self.result_bytes > max_result_bytes:
            return (f"the result would be {self.result_bytes} bytes ({self.variations} variation(s) x "
                    f"{self.channels} channel(s) x {self.samples} samples x {BYTES_PER_SAMPLE}), over the limit "
                    f"of {max_result_bytes} bytes (max_result_bytes)")
        return None


def range_seconds(fields: dict[str, Any]) -> tuple[float | None, float | None]:
    """(start, end) in seconds as given: `start`/`end`, or `start_frame`/`end_frame` with `fps`
    (seconds = frame x den / num), or `start` + `duration`. None where not given."""
    fps = fields.get("fps")
    if fps is not None and (fields.get("start_frame") is not None or fields.get("end_frame") is not None):
        num, den = fps
        start = None if fields.get("start_frame") is None else fields["start_frame"] * den / num
        end = None if fields.get("end_frame") is None else fields["end_frame"] * den / num
    else:
        start, end = fields.get("start"), fields.get("end")
    return start, end


def check_range(fields: dict[str, Any], has_video: bool) -> None:
    """The combination rules of the range fields (RangeError); values are already checked."""
    given = lambda name: fields.get(name) is not None
    if not has_video:
        if not given("duration"):
            raise RangeError("text-to-audio needs 'duration' (seconds)")
        for name in ("start", "end", "start_frame", "end_frame", "fps"):
            if given(name):
                raise RangeError(f"{name!r} needs a video")
        return
    in_frames = given("start_frame") or given("end_frame")
    if in_frames and (given("start") or given("end")):
        raise RangeError("give the range in seconds or in frames, not both")
    if in_frames and not given("fps"):
        raise RangeError("'start_frame'/'end_frame' need 'fps'")
    start, end = range_seconds(fields)
    if end is not None and given("duration"):
        raise RangeError("give the range's end or its duration, not both")
    if start is not None and end is not None and end <= start:
        raise RangeError("the range is empty: 'end' must be after 'start'")


def request_cost(fields: dict[str, Any], *, has_video: bool, video_seconds: float | None = None) -> Cost:
    """The cost of a checked request (`fields` by their wire names; absent = default).

    video_seconds: the video's length, needed only for a range that runs to the video's end.
    Raises RangeError for a range that breaks the rules, or that starts past the video's end.
    """
    check_range(fields, has_video)
    variations = fields.get("variations") or 1
    channels = fields.get("channels") or 1
    rate = fields.get("sample_rate") or 48_000
    duration = fields.get("duration")
    if not has_video:
        start, end, seconds = 0.0, None, float(duration)
    else:
        start, end = range_seconds(fields)
        start = start or 0.0
        if end is None and duration is not None:
            end = start + duration
        if end is not None:
            seconds = end - start
        elif video_seconds is not None:
            if start >= video_seconds:
                raise RangeError(f"the range starts at {start:.3f} s, at or past the video's end "
                                 f"({video_seconds:.3f} s)")
            seconds = video_seconds - start
        else:
            seconds = None
    samples = None if seconds is None else sample_count(seconds, rate)
    nbytes = None if samples is None else variations * channels * samples * BYTES_PER_SAMPLE
    return Cost(start, end, seconds, samples, nbytes, variations, channels, rate)
