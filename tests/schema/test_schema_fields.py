"""The request schema: each field's checks, and the cost of every form of request."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

import mfmjt_schema as schema
from mfmjt_schema import RangeError, request_cost


@pytest.mark.parametrize("spec", schema.FIELDS, ids=lambda f: f.name)
def test_every_field_takes_its_default_and_bounds_and_refuses_beyond(spec):
    if spec.default is not None:
        assert spec.check(spec.default) == spec.default
    if spec.kind in ("int", "number"):
        assert spec.check(spec.low) == spec.low and spec.check(spec.high) == spec.high
        step = 1 if spec.kind == "int" else 1e-6 * max(1.0, abs(spec.high))
        for bad in (spec.low - step, spec.high + step, True, "1"):
            with pytest.raises(schema.FieldError) as info:
                spec.check(bad)
            assert info.value.field == spec.name and spec.what() in str(info.value)
    if spec.kind == "number":
        for bad in (math.nan, math.inf, -math.inf):
            with pytest.raises(schema.FieldError):
                spec.check(bad)
    if spec.kind == "int":
        with pytest.raises(schema.FieldError):
            spec.check(float(spec.low))  # 5.0 is not an integer on the wire
    if spec.nullable:
        assert spec.check(None) is None
    else:
        with pytest.raises(schema.FieldError):
            spec.check(None)


def test_the_seed_and_id_limits():
    seed = schema.field("seed")
    assert seed.check(2**63 - 1) == 2**63 - 1
    with pytest.raises(schema.FieldError):
        seed.check(2**64)
    job = schema.field("job")
    assert job.check("a.b_c:d-1") == "a.b_c:d-1"
    for bad in ("", "x" * 65, "with space", "ü", 5):
        with pytest.raises(schema.FieldError):
            job.check(bad)


def test_the_cost_of_text_is_its_duration():
    cost = request_cost({"duration": 600.0, "variations": 16, "channels": 2, "sample_rate": 192_000},
                        has_video=False)
    assert cost.seconds == 600.0 and cost.samples == 115_200_000
    assert cost.result_bytes == 16 * 2 * 115_200_000 * 4  # the issue's ~14.7 GB
    reason = cost.over(max_seconds=600.0, max_result_bytes=2**30)
    assert "max_result_bytes" in reason and str(2**30) in reason


def test_the_sample_count_is_round_rate_times_seconds():
    assert schema.sample_count(1 / 3, 48_000) == 16_000
    assert schema.sample_count(1001 / 30000, 44_100) == round(44_100 * 1001 / 30000)
    cost = request_cost({"start": 0.25, "end": 0.5, "sample_rate": 44_100}, has_video=True)
    assert cost.samples == round(44_100 * 0.25)


@pytest.mark.parametrize("fields, video_seconds, seconds, start, end", [
    ({"start": 2.0, "end": 10.0}, None, 8.0, 2.0, 10.0),  # a range
    ({"start_frame": 30, "end_frame": 90, "fps": (30, 1)}, None, 2.0, 1.0, 3.0),  # frames
    ({"start": 2.0, "duration": 3.0}, None, 3.0, 2.0, 5.0),  # a start and a duration
    ({"duration": 3.0}, None, 3.0, 0.0, 3.0),  # the first seconds
    ({}, 12.5, 12.5, 0.0, None),  # the whole video
    ({"start": 2.5}, 12.5, 10.0, 2.5, None),  # from a start to the end
    ({}, None, None, 0.0, None),  # to the end of a video not probed yet
])
def test_the_cost_of_every_video_form(fields, video_seconds, seconds, start, end):
    cost = request_cost(fields, has_video=True, video_seconds=video_seconds)
    assert (cost.seconds, cost.start, cost.end) == (seconds, start, end)
    if seconds is None:
        assert (
            cost.samples is None and cost.result_bytes is None and cost.over(max_seconds=1, max_result_bytes=1) is None
        )
    else:
        assert cost.result_bytes == 4 * round(48_000 * seconds)
        assert "max_seconds" in cost.over(max_seconds=seconds / 2)
        assert cost.over(max_seconds=seconds, max_result_bytes=cost.result_bytes) is None


@pytest.mark.parametrize("fields, has_video, words", [
    ({}, False, "needs 'duration'"),
    ({"duration": 1.0, "start": 0.0}, False, "needs a video"),
    ({"start": 3.0, "end": 2.0}, True, "range is empty"),
    ({"start": 1.0, "start_frame": 3, "fps": (25, 1)}, True, "not both"),
    ({"start_frame": 3}, True, "need 'fps'"),
    ({"end": 3.0, "duration": 1.0}, True, "end or its duration"),
])
def test_range_rules(fields, has_video, words):
    with pytest.raises(RangeError, match=words):
        request_cost(fields, has_video=has_video)


def test_a_start_past_the_probed_end_is_refused():
    with pytest.raises(RangeError, match="past the video's end"):
        request_cost({"start": 20.0}, has_video=True, video_seconds=12.0)


def test_the_schema_is_standard_library_only():
    code = ("import sys, mfmjt_schema; bad = {'numpy', 'torch', 'zmq', 'mfmjt_core', 'mfmjt_daemon'} & "
            "{m.split('.')[0] for m in sys.modules}; print(sorted(bad)); assert not bad")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
