"""Malformed traffic, a daemon killed and restarted, clean shutdown with jobs in flight."""

from __future__ import annotations

import json
import random
import signal
import time

import pytest
import zmq
from daemon_testing import LONG_JOB, free_port, token
from daemon_testing import wait_for as _wait
from mfmjt_daemon import protocol
from mfmjt_daemon.client import Client, DaemonError, DaemonRestartedError, DaemonUnavailableError


def _malformed(rng: random.Random) -> list[bytes]:
    """One malformed message of a randomly chosen kind."""
    good = {"v": 1, "op": "generate", "job": f"f{rng.randrange(10**6)}", "prompt": "x", "duration": 1.0,
            "token": token()}
    kind = rng.randrange(10)
    if kind == 0:  # random frames
        return [rng.randbytes(rng.randrange(1, 200)) for _ in range(rng.randrange(1, 4))]
    if kind == 1:  # truncated JSON
        text = json.dumps(good)
        return [text[: rng.randrange(1, len(text) - 1)].encode()]
    if kind == 2:  # huge declared sizes, tiny actual frame
        n = rng.choice([2**31, 2**39, 10**12])
        return [json.dumps({**good, "frames": [{"name": "video", "dtype": "bytes", "shape": [n]}]}).encode(), b"x"]
    if kind == 3:  # wrong types
        field, value = rng.choice([("steps", "1"), ("duration", [1]), ("seed", 1.5), ("channels", None),
                                   ("prompt", 7), ("job", 12), ("op", {"a": 1}), ("variations", True)])
        return [json.dumps({**good, field: value}).encode()]
    if kind == 4:  # wrong protocol version
        return [json.dumps({**good, "v": rng.choice([0, 2, 99, -1])}).encode()]
    if kind == 5:  # missing or extra frames
        spec = [{"name": "video", "dtype": "bytes", "shape": [4]}]
        frames = [b"abcd", b"more"][: rng.choice([0, 2])]
        return [json.dumps({**good, "frames": spec}).encode(), *frames]
    if kind == 6:  # unknown op / unknown field
        return [json.dumps(rng.choice([{**good, "op": "format_disk"}, {**good, "prmopt": "typo"}])).encode()]
    if kind == 7:  # not an object, not UTF-8, NaN
        return [rng.choice([b"[1,2,3]", b"\xff\xfe\xfd", b'"text"', b"null", b'{"v":1,"op":"ping","a":NaN}'])]
    if kind == 8:  # a header over 64 KiB
        return [json.dumps({**good, "prompt": "y" * 70_000}).encode()]
    return [json.dumps({**good, "fps": [0, 1], "video_path": "/v.mp4", "start_frame": 1}).encode()]


def test_fuzz_every_malformed_message_gets_an_error_and_the_daemon_keeps_serving(daemon, client):
    rng = random.Random(1234)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(daemon.address)
    try:
        sent = 0
        for _ in range(400):
            sock.send_multipart(_malformed(rng))
            sent += 1
        errors = []
        deadline = time.monotonic() + 30
        while len(errors) < sent and time.monotonic() < deadline:
            if sock.poll(200):
                errors.append(protocol.decode(sock.recv_multipart()).header)
        assert len(errors) == sent
        assert all(e["op"] == "error" and e["code"] in ("bad_request", "unsupported_version", "unknown_op", "too_large")
                   for e in errors)
        assert {e["code"] for e in errors} == {"bad_request", "unsupported_version", "unknown_op", "too_large"}
        # Over MAXMSGSIZE (16 MiB here): libzmq drops it and the connection, without an answer.
        big = protocol.encode({"op": "generate", "job": "big", "video_format": "mp4", "token": token(),
                               "frames": [{"name": "video", "dtype": "bytes", "shape": [17 * 2**20]}]},
                              [bytes(17 * 2**20)])
        sock.send_multipart(big)
        assert sock.poll(1000) == 0
        # A REQ socket (empty delimiter frame) is told to use DEALER, inside its own envelope.
        req = zmq.Context.instance().socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(daemon.address)
        req.send_multipart(protocol.encode({"op": "ping"}))
        assert req.poll(5000) and protocol.decode(req.recv_multipart()).header["code"] == "bad_request"
        req.close(0)
    finally:
        sock.close(0)
    result = client.generate(prompt="still alive", duration=1.0, sample_rate=16_000, seed=2)
    assert result.samples == 16_000 and result.seeds == (2,)
    assert client.status()["rejected"] >= 400


def test_daemon_killed_mid_job_then_restarted(start_daemon):
    daemon = start_daemon()
    with Client(daemon.address, timeout=1.0, retries=1) as c:
        # Killed and restarted while a job is in flight: the client learns the job was lost...
        job = c.submit(**LONG_JOB)
        _wait(lambda: job.state == "running", 30, step=lambda: c.poll(0.05), what="the job to run")
        daemon.kill()
        restarted = start_daemon(port=daemon.port)
        _wait(lambda: job.done, 30, step=lambda: c.poll(0.1), what="the client to notice the restart")
        assert isinstance(job.error, DaemonRestartedError) and job.error.code == "restarted", job.error
        # ...and the same client works again.
        assert c.generate(prompt="after restart", duration=1.0, sample_rate=16_000).samples == 16_000
        # Killed for good: a clear "unavailable" error after the retries, not a hang.
        job = c.submit(**LONG_JOB)
        _wait(lambda: job.state == "running", 30, step=lambda: c.poll(0.05), what="the job to run")
        restarted.kill()
        _wait(lambda: job.done, 15, step=lambda: c.poll(0.1), what="the client to give up")
        assert isinstance(job.error, DaemonUnavailableError) and "stopped answering" in job.error.message
        with pytest.raises(DaemonUnavailableError):
            c.ping()


def test_sigterm_answers_queued_and_running_jobs_then_exits_cleanly(start_daemon, clip):
    daemon = start_daemon("--max-queue", "2")
    with Client(daemon.address, timeout=3.0) as c:
        jobs = [c.submit(**LONG_JOB)]
        _wait(lambda: jobs[0].state == "running", 30, step=lambda: c.poll(0.05), what="the first job to run")
        jobs.append(c.submit(**LONG_JOB))
        jobs.append(c.submit(clip.read_bytes(), seed=1))  # an upload waiting in the queue
        jobs.append(c.submit(**LONG_JOB))  # one runs, two wait, the fourth is refused
        _wait(lambda: all(j.state != "sending" for j in jobs), 30, step=lambda: c.poll(0.05), what="answers")
        assert jobs[3].error is not None and jobs[3].error.code == "busy"
        assert [j.state for j in jobs[1:3]] == ["queued", "queued"]
        assert c.status()["queued"] == 2
        assert len(list(daemon.temp_root.rglob("*.mp4"))) == 1
        assert daemon.stop(signal.SIGTERM) == 0
        _wait(lambda: all(j.done for j in jobs), 5, step=lambda: c.poll(0.05), what="every job answered")
        assert [j.error.code for j in jobs[:3]] == ["shutting_down"] * 3
    log = daemon.log()
    assert "shutting down: answering 2 queued job(s), stopping 1 running" in log and "stopped" in log
    assert "Traceback" not in log
    assert list(daemon.temp_root.glob("mfmjt-daemon-*")) == []  # the private upload folder is gone


def test_video_bytes_are_deleted_after_the_job(daemon, client, clip):
    result = client.generate(clip.read_bytes(), start=0.0, end=1.0, sample_rate=16_000)
    assert result.samples == 16_000
    folders = list(daemon.temp_root.glob("mfmjt-daemon-*"))
    assert len(folders) == 1
    assert list(folders[0].iterdir()) == []


def test_unreachable_daemon_is_a_clear_error_not_a_hang():
    with Client(f"tcp://127.0.0.1:{free_port()}", timeout=0.3, retries=1) as c:
        start = time.monotonic()
        with pytest.raises(DaemonUnavailableError) as info:
            c.generate(prompt="nobody home", duration=1.0)
        assert "mfmjt serve" in info.value.message and time.monotonic() - start < 3.0
        assert isinstance(info.value, DaemonError) and info.value.code == "unavailable"
