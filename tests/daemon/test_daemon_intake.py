"""The daemon's intake knows every request's cost before it queues it: text, a range, frames, a
start with a duration, a video to its end (probed), uploaded or by path; `too_large` names the
limit, and a refused upload leaves nothing on disk."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from mfmjt_daemon import protocol
from mfmjt_daemon.intake import IntakeLimits, build_request
from mfmjt_daemon.uploads import Uploads


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 4 s, 25 fps clip."""
    from mfmjt_core.media import write_video

    frames = np.zeros((100, 48, 64, 3), np.uint8)
    return write_video(tmp_path_factory.mktemp("intake") / "clip.mp4", frames, Fraction(25))


@pytest.fixture
def uploads():
    folder = Uploads()
    yield folder
    folder.remove()


def _message(header: dict, video: bytes | None = None) -> tuple[protocol.Message, dict]:
    header = {"op": "generate", "job": "j1", **header}
    blobs = []
    if video is not None:
        header["frames"] = [{"name": "video", "dtype": "bytes", "shape": [len(video)]}]
        blobs = [video]
    message = protocol.decode(protocol.encode(header, blobs))
    return message, protocol.parse_request(message)


def _build(header, limits, uploads, video=None):
    message, fields = _message(header, video)
    return build_request(message, fields, limits, uploads)


LIMITS = IntakeLimits(max_seconds=600.0, max_result_bytes=2**30, allow_paths=True)


def test_the_issue_s_text_request_is_refused_naming_the_limit(uploads):
    with pytest.raises(protocol.ProtocolError) as info:
        _build({"duration": 600.0, "variations": 16, "channels": 2, "sample_rate": 192_000}, LIMITS, uploads)
    assert info.value.code == "too_large" and info.value.job == "j1"
    assert "14745600000 bytes" in info.value.message and "max_result_bytes" in info.value.message
    with pytest.raises(protocol.ProtocolError, match=r"longer than the limit of 600 s \(max_seconds\)"):
        _build({"duration": 601.0}, LIMITS, uploads)


@pytest.mark.parametrize("header, seconds", [
    ({}, 4.0),  # the whole video: probed
    ({"start": 1.5}, 2.5),  # from a start to its end: probed
    ({"start": 1.0, "duration": 2.0}, 2.0),
    ({"start": 0.5, "end": 3.5}, 3.0),
    ({"start_frame": 25, "end_frame": 75, "fps": [25, 1]}, 2.0),
])
def test_every_video_form_is_costed_by_path_and_by_upload(clip, uploads, header, seconds):
    # a limit just under the request's bytes refuses it, one just over accepts it
    nbytes = 2 * 2 * round(48_000 * seconds) * 4
    header = {**header, "variations": 2, "channels": 2}
    for send in ("path", "bytes"):
        h = {**header, "video_path": str(clip)} if send == "path" else header
        video = clip.read_bytes() if send == "bytes" else None
        with pytest.raises(protocol.ProtocolError) as info:
            _build(h, IntakeLimits(600.0, nbytes - 1, True), uploads, video)
        assert info.value.code == "too_large" and f"{nbytes} bytes" in info.value.message
        assert list(uploads.folder.iterdir()) == []  # a refused upload leaves nothing behind
        request, upload = _build(h, IntakeLimits(600.0, nbytes, True), uploads, video)
        assert request.variations == 2 and request.channels == 2
        assert (upload is None) == (send == "path")
        if upload is not None:
            assert request.video == upload and upload.read_bytes() == video
            upload.unlink()


def test_a_whole_video_longer_than_max_seconds_is_refused_before_queueing(clip, uploads):
    with pytest.raises(protocol.ProtocolError, match=r"4\.000 s of audio is longer than the limit of 3 s"):
        _build({}, IntakeLimits(3.0, 2**30, True), uploads, clip.read_bytes())
    assert list(uploads.folder.iterdir()) == []


def test_a_start_past_the_end_and_an_unreadable_upload_are_bad_media(clip, uploads):
    with pytest.raises(protocol.ProtocolError) as info:
        _build({"start": 9.0, "video_path": str(clip)}, LIMITS, uploads)
    assert info.value.code == "bad_media" and "past the video's end" in info.value.message
    with pytest.raises(protocol.ProtocolError) as info:
        _build({}, LIMITS, uploads, b"not a video at all")
    assert info.value.code == "bad_media" and str(uploads.folder) not in info.value.message
    assert list(uploads.folder.iterdir()) == []


def test_schema_fields_pass_through_to_the_pipeline(uploads):
    request, _ = _build({"duration": 2.0, "prompt": "rain", "seed": 4, "steps": 2, "guidance": 3.0,
                         "temperature": 0.5, "loudness": -23.0, "peak_ceiling": -2.0, "sample_rate": 16_000},
                        LIMITS, uploads)
    assert (request.prompt, request.seed, request.steps, request.guidance, request.temperature,
            request.loudness, request.peak_ceiling, request.sample_rate, request.duration) == (
        "rain", 4, 2, 3.0, 0.5, -23.0, -2.0, 16_000, 2.0)
