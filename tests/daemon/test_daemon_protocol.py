"""Protocol checks, the fair queue and WAV writing, without a daemon."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from mfmjt_daemon import protocol
from mfmjt_daemon.client import Result, pcm24, write_wav
from mfmjt_daemon.protocol import ProtocolError, decode, encode, parse_request

ROOT = Path(__file__).resolve().parents[2]


def _parse(header: dict, *blobs) -> dict:
    return parse_request(decode(encode(header, list(blobs))))


def _code(header_or_frames, *blobs) -> str:
    frames = header_or_frames if isinstance(header_or_frames, list) else encode(header_or_frames, list(blobs))
    with pytest.raises(ProtocolError) as info:
        parse_request(decode(frames, max_blob_bytes=1000))
    return info.value.code


def test_valid_generate_requests_parse_to_their_fields():
    fields = _parse({"op": "generate", "job": "a1", "prompt": "rain", "duration": 8, "seed": 3, "channels": 2,
                     "temperature": 0.5})
    assert fields == {"job": "a1", "prompt": "rain", "duration": 8.0, "seed": 3, "channels": 2, "temperature": 0.5}
    video = b"\x00" * 10
    fields = _parse({"op": "generate", "job": "b", "start_frame": 30, "end_frame": 90, "fps": [30000, 1001],
                     "frames": [{"name": "video", "dtype": "bytes", "shape": [10]}]}, video)
    start, end = protocol.range_seconds(fields)
    assert start == pytest.approx(30 * 1001 / 30000) and end == pytest.approx(90 * 1001 / 30000)
    assert (
        _parse({"op": "generate", "job": "c", "video_path": "/x.mp4", "x_editor": {"any": 1}})["video_path"] == "/x.mp4"
    )


@pytest.mark.parametrize(
    "header, code",
    [
        ({"op": "generate", "job": "j", "duration": 1, "v": 2}, "unsupported_version"),
        ({"op": "generate", "job": "j", "duration": 1, "v": "1"}, "bad_request"),
        ({"op": "teleport"}, "unknown_op"),
        ({"op": 5}, "bad_request"),
        ({"op": "generate", "duration": 1}, "bad_request"),  # no job id
        ({"op": "generate", "job": "has space", "duration": 1}, "bad_request"),
        ({"op": "generate", "job": "j"}, "bad_request"),  # text-to-audio without duration
        ({"op": "generate", "job": "j", "duration": 1, "promt": "typo"}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "steps": 2.0}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "steps": True}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "variations": 17}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "temperature": 2.5}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "temperature": "warm"}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "seed": -1}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "channels": 3}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "prompt": "x" * 5000}, "bad_request"),
        ({"op": "generate", "job": "j", "duration": 1, "start": 1.0}, "bad_request"),  # range without video
        ({"op": "generate", "job": "j", "video_path": "/v.mp4", "start": 3, "end": 2}, "bad_request"),
        (
            {"op": "generate", "job": "j", "video_path": "/v.mp4", "start": 1, "start_frame": 2, "fps": [25, 1]},
            "bad_request",
        ),
        ({"op": "generate", "job": "j", "video_path": "/v.mp4", "start_frame": 2}, "bad_request"),  # no fps
        ({"op": "cancel"}, "bad_request"),
        ({"op": "ping", "frames": [{"name": "video", "dtype": "bytes", "shape": [0]}]}, "bad_request"),
    ],
)
def test_bad_requests_get_their_code(header, code):
    if header.get("frames"):
        assert _code(header, b"") == code
    elif "v" in header:
        assert _code([json.dumps(header).encode()]) == code
    else:
        assert _code(header) == code


def test_frames_must_match_the_header_exactly():
    spec = [{"name": "video", "dtype": "bytes", "shape": [4]}]
    head = {"op": "generate", "job": "j", "frames": spec}
    assert _code(head) == "bad_request"  # missing frame
    assert _code(head, b"1234", b"extra") == "bad_request"  # extra frame
    assert _code(head, b"123") == "bad_request"  # wrong size
    assert _code({**head, "frames": [{"name": "video", "dtype": "bytes", "shape": [10**6]}]}, b"x") == "too_large"
    assert _code({**head, "frames": [{"name": "video", "dtype": "int64", "shape": [1]}]}, b"x") == "bad_request"
    assert _code({**head, "video_path": "/a.mp4"}, b"1234") == "bad_request"  # both path and bytes


def test_malformed_header_frames():
    assert _code([b""]) == "bad_request"
    assert _code([b"{not json"]) == "bad_request"
    assert _code([b"\xff\xfe"]) == "bad_request"
    assert _code([b"[1, 2]"]) == "bad_request"
    assert _code([b'{"v": 1, "op": "ping", "x": NaN}']) == "bad_request"
    assert _code([b"[" * 50_000]) == "bad_request"  # deep nesting: RecursionError is caught
    assert _code([b" " * (protocol.MAX_HEADER_BYTES + 1)]) == "too_large"


def test_errors_name_the_job_and_request_when_readable():
    with pytest.raises(ProtocolError) as info:
        parse_request(decode(encode({"op": "generate", "job": "j7", "req": "r1", "steps": 0, "duration": 1})))
    assert (info.value.job, info.value.req) == ("j7", "r1")


@pytest.mark.parametrize("endpoint, local", [
    ("tcp://127.0.0.1:5557", True), ("tcp://localhost:5557", True), ("tcp://[::1]:5557", True),
    ("ipc:///tmp/mfmjt", True), ("tcp://127.0.0.2:5557", False), ("tcp://0.0.0.0:5557", False),
    ("tcp://*:5557", False), ("tcp://eth0:5557", False), ("tcp://192.168.1.5:5557", False),
    ("tcp://eth0;127.0.0.1:5557", False), ("udp://127.0.0.1:5557", False),
])
def test_which_binds_count_as_local(endpoint, local):
    assert protocol.is_local_endpoint(endpoint) is local


def test_fair_queue_interleaves_clients_and_reports_positions():
    from mfmjt_daemon.jobs import FairQueue, Job, QueueFull

    from mfmjt_core.pipeline.types import GenerateRequest

    q = FairQueue(limit=9)
    req = GenerateRequest(duration=1.0)
    first = Job(b"A", "A1", req, "")
    q.put(first)
    assert q.take(timeout=0) is first  # A1 runs while the rest arrive
    jobs = [Job(c, f"{c.decode()}{i}", req, "") for c in (b"A", b"B", b"C") for i in (2, 3, 4)]
    for job in jobs[:8]:
        q.put(job)
    assert q.position(jobs[0]) == 3  # A2 waits for B2 and C2: A was served last
    with pytest.raises(QueueFull):
        q.put(jobs[8]), q.put(Job(b"D", "D1", req, ""))
    order = [q.take(timeout=0).id for _ in range(9)]
    assert order == ["B2", "C2", "A2", "B3", "C3", "A3", "B4", "C4", "A4"]
    assert q.take(timeout=0.01) is None
    assert q.close() == []


def _result(audio: np.ndarray, rate: int = 8000) -> Result:
    v, c, n = audio.shape
    data = memoryview(np.ascontiguousarray(audio, "<f4").tobytes())
    return Result("j", data, rate, c, v, n, (1,) * v, "m", {}, 0.0, n / rate, {})


def test_wav_is_interleaved_24_bit_with_exact_values(tmp_path):
    audio = np.array([[[0.0, 0.5, 1.0, 2.0], [-0.5, -1.0, -3.0, np.nan]]], np.float32)
    path = write_wav(tmp_path / "a.wav", _result(audio))
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 3, 8000, 4)
        raw = w.readframes(4)
    got = [int.from_bytes(raw[i:i + 3], "little", signed=True) for i in range(0, len(raw), 3)]
    full = 2**23 - 1
    assert got == [0, -round(0.5 * full), round(0.5 * full), -full, full, -full, full, 0]
    assert not list(tmp_path.glob(".*partial*"))


def test_pure_python_wav_path_equals_numpy_path():
    rng = np.random.default_rng(0)
    result = _result(rng.uniform(-1.2, 1.2, (2, 2, 1000)).astype(np.float32))
    expected = pcm24(result, 1)
    code = (
        "import sys, json; sys.modules['numpy'] = None\n"
        "from mfmjt_daemon.client import Result, pcm24\n"
        "data = sys.stdin.buffer.read()\n"
        "r = Result('j', memoryview(data), 8000, 2, 2, 1000, (1, 2), 'm', {}, 0.0, 0.125, {})\n"
        "sys.stdout.buffer.write(pcm24(r, 1))\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], input=result.audio.tobytes(), capture_output=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout == expected


def test_client_and_protocol_import_without_torch_numpy_or_the_core():
    code = (
        "import sys\n"
        "for name in ('torch', 'numpy', 'mfmjt_core', 'torchaudio', 'av'):\n"
        "    sys.modules[name] = None\n"
        "import mfmjt_daemon.protocol, mfmjt_daemon.client as c\n"
        "assert hasattr(c, 'Client') and hasattr(c, 'write_wav')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'mfmjt_core') and sys.modules[m]]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


class _Failing:
    """Raises what a model under memory pressure raises, then works."""

    def __init__(self, errors):
        self.errors = list(errors)

    def describe(self) -> dict:
        return {"name": "stub"}

    def run(self, request, *, progress=None, cancel=None):
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_worker_maps_out_of_memory_to_resource_and_keeps_going():
    from mfmjt_daemon.jobs import FairQueue, Job, Worker

    from mfmjt_core.errors import ResourceError
    from mfmjt_core.pipeline.types import GenerateRequest

    errors = [MemoryError(), RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"),
              ResourceError("range too long"), ValueError("a bug")]
    queue, events = FairQueue(limit=8), []
    worker = Worker(0, _Failing(errors), queue, events.append)
    jobs = [Job(b"c", f"j{i}", GenerateRequest(duration=1.0), "") for i in range(5)]
    for job in jobs:
        queue.put(job)
    worker.start()
    deadline = time.monotonic() + 10
    while sum(e[0] != "progress" for e in events) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.close()
    worker.join(5)
    final = [e for e in events if e[0] != "progress"]
    assert [e[2] if e[0] == "failed" else e[0] for e in final] == [
        "resource",
        "resource",
        "resource",
        "internal",
        "done",
    ]
    assert [e[1].id for e in final] == ["j0", "j1", "j2", "j3", "j4"]
