"""Local security: the token file, one answer for missing and unreadable paths, no temp paths."""

from __future__ import annotations

import os
import stat
import sys
import time

import pytest
import zmq
from daemon_testing import token, wait_for
from mfmjt_daemon import protocol
from mfmjt_daemon.client import AuthenticationError, Client
from mfmjt_daemon.local_token import ensure_token


def test_the_token_file_is_private_and_a_readable_one_is_replaced(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "mfmjt" / "daemon.token"
    first = ensure_token(path)
    assert len(first) == 64 and protocol.read_token(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_token(path) == first  # kept across daemon runs
    path.chmod(0o644)
    second = ensure_token(path)
    assert second != first and stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.delenv(protocol.TOKEN_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    if sys.platform.startswith("linux"):
        assert protocol.token_path() == path  # where the clients look by default
    monkeypatch.setenv(protocol.TOKEN_FILE_ENV, str(tmp_path / "t"))
    assert protocol.token_path() == tmp_path / "t" and protocol.read_token() is None


def _ask(address: str, header: dict) -> dict:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    try:
        sock.send_multipart(protocol.encode(header))
        assert sock.poll(10_000), "no answer"
        return protocol.decode(sock.recv_multipart()).header
    finally:
        sock.close(0)


@pytest.mark.parametrize("given", [None, "", "wrong", 12])
def test_requests_without_the_right_token_get_auth(daemon, given):
    for header in ({"op": "ping", "req": "r1"}, {"op": "hello", "req": "r2"},
                   {"op": "generate", "job": "j1", "prompt": "x", "duration": 1.0}):
        if given is not None:
            header = {**header, "token": given}
        answer = _ask(daemon.address, header)
        assert answer["op"] == "error" and answer["code"] == "auth", answer
        assert answer.get("req") == header.get("req") and answer.get("job") == header.get("job")
    assert _ask(daemon.address, {"op": "ping", "req": "r3", "token": token()})["op"] == "pong"


def test_a_client_with_a_wrong_token_gets_an_authentication_error(daemon):
    with Client(daemon.address, timeout=3.0, token="not-the-token") as c:
        with pytest.raises(AuthenticationError) as caught:
            c.hello()
        assert caught.value.code == "auth"
        job = c.submit(prompt="x", duration=1.0)
        wait_for(lambda: job.done, 10, step=lambda: c.poll(0.05), what="the answer")
        assert isinstance(job.error, AuthenticationError)


def test_missing_and_unreadable_paths_get_the_same_answer(client, tmp_path, clip):
    unreadable = tmp_path / "secret.mp4"
    unreadable.write_bytes(clip.read_bytes())
    unreadable.chmod(0)
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    cases = [("missing", tmp_path / "absent.mp4"), ("folder", tmp_path), ("fifo", fifo)]
    if not os.access(unreadable, os.R_OK):  # (root reads anything)
        cases.append(("unreadable", unreadable))
    answers = {}
    for name, path in cases:
        job = client.submit(path, send="path", start=0.0, end=1.0)
        wait_for(lambda job=job: job.done, 10, step=lambda: client.poll(0.05), what=f"the {name} answer")
        answers[name] = (job.error.code, job.error.message.replace(str(path), "PATH"))
    assert len(set(answers.values())) == 1, answers
    assert answers["missing"][0] == "bad_media"


def test_error_messages_never_show_the_daemons_temp_paths(daemon, client):
    for fields in ({"start": 0.0, "end": 1.0}, {}):  # a range (the pipeline reads it) and the whole video
        job = client.submit(b"this is not a video" * 100, send="bytes", video_format="mp4", **fields)
        wait_for(lambda job=job: job.done, 20, step=lambda: client.poll(0.05), what="the answer")
        assert job.error is not None and job.error.code == "bad_media", job.error
        assert str(daemon.temp_root) not in job.error.message and "mfmjt-daemon-" not in job.error.message
    time.sleep(0.1)
    assert not any(daemon.temp_root.glob("mfmjt-daemon-*/*"))  # and the bytes are gone


def test_a_path_no_file_system_can_hold_is_bad_media_not_internal(client):
    # a NUL byte or a lone surrogate made os.stat raise ValueError: an 'internal' error with a traceback
    for path in ("/tmp/a\x00b.mp4", "/tmp/\ud800.mp4"):
        job = client.submit(path, send="path", start=0.0, end=1.0)
        wait_for(lambda job=job: job.done, 10, step=lambda: client.poll(0.05), what=f"the answer for {path!r}")
        assert job.error.code == "bad_media" and "cannot be read as a file" in job.error.message, job.error
    assert client.ping() >= 0
