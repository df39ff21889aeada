"""docs/protocol.md is the contract a client in another language is written from: its examples
parse as the daemon parses them, its generate table is the request schema, and a raw DEALER
socket speaking only what the document says gets the documented answers from a real daemon."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import zmq
from daemon_testing import token
from mfmjt_daemon import protocol

import mfmjt_schema

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def _examples() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)
    # "…" marks a value the reader fills in; give it a placeholder string so the JSON reads
    return [json.loads(re.sub(r"(?<![\w\"])…", '"x"', re.sub(r'"[^"\n]*…[^"\n]*"', '"x"', b))) for b in blocks]


def _blobs(header: dict) -> list[bytes]:
    specs = protocol.parse_frame_specs(header.get("frames", []))
    return [bytes(spec.nbytes) for spec in specs]


def test_every_request_example_parses():
    requests = [h for h in _examples() if h.get("op") in protocol.REQUEST_OPS and "instance" not in h]
    assert {h["op"] for h in requests} >= {"generate"}
    for header in requests:
        protocol.parse_request(protocol.decode(protocol.encode(header, _blobs(header))))


def test_the_result_example_follows_the_sample_count_rule():
    (result,) = [h for h in _examples() if h.get("op") == "result"]
    assert result["samples"] == mfmjt_schema.sample_count(result["duration"], result["sample_rate"])
    assert result["frames"][0]["shape"] == [result["variations"], result["channels"], result["samples"]]
    assert len(result["levels"]) == result["variations"]
    assert set(result["levels"][0]) == {"loudness_lufs", "true_peak_dbtp", "gain_db"}


def test_the_generate_table_is_the_request_schema():
    table = DOC[DOC.index("### `generate`"):DOC.index("**End of the video.**")]
    rows = [line for line in table.splitlines() if line.startswith("| `")]  # (the blob row is no field)
    named = set()
    for row in rows:
        named |= set(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    assert named == {f.name for f in mfmjt_schema.FIELDS}
    for spec in mfmjt_schema.FIELDS:  # every numeric bound the table gives is the schema's
        (row,) = [r for r in rows if f"`{spec.name}`" in r.split("|")[1]]
        if spec.kind == "int" and spec.high is not None and spec.high < 10**6:
            assert f"{int(spec.low)}..{int(spec.high)}" in row, row


@pytest.fixture
def dealer(daemon):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTING_ID, b"document reader")  # any bytes, as the document says
    sock.connect(daemon.address)
    yield sock
    sock.close(0)


def _send(sock, header: dict) -> None:
    """A request as the document says, with the local daemon's token (section 1)."""
    sock.send_multipart(protocol.encode({**header, "token": token()}))


def _until(sock, job: str, ops: tuple[str, ...], timeout: float = 60.0) -> protocol.Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.poll(200):
            message = protocol.decode(sock.recv_multipart())
            if message.header.get("job") == job and message.op in ops:
                return message
    raise AssertionError(f"no {ops} for {job}")


def test_a_client_written_from_the_document(dealer):
    example = next(h for h in _examples() if h.get("op") == "generate" and "prompt" in h)
    job = f"doc-{time.monotonic_ns()}"
    _send(dealer, {**example, "job": job, "duration": 1.5, "sample_rate": 16_000})
    result = _until(dealer, job, ("result", "error"))
    h = result.header
    assert result.op == "result", h
    assert h["samples"] == round(16_000 * 1.5) and h["duration"] == 1.5 and h["start"] == 0.0
    audio = memoryview(result.blobs["audio"]).cast("f")
    assert max(abs(x) for x in audio) <= 10 ** (-1 / 20) + 1e-6  # the documented sample range
    assert h["levels"][0]["true_peak_dbtp"] <= -1.0
    # a request error names the op it answers; a bad `req` is refused like a bad `job`
    _send(dealer, {"op": "generate", "job": job + "x", "duration": 601.0,
                   "variations": 16, "sample_rate": 192_000, "channels": 2})
    error = _until(dealer, job + "x", ("error",)).header
    assert error["code"] == "too_large" and error["about"] == "generate" and "max_" in error["message"]
    _send(dealer, {"op": "ping", "req": "not valid!"})
    error = {}
    while error.get("op") != "error" or "job" in error:  # (late progress of the jobs above)
        assert dealer.poll(10_000)
        error = protocol.decode(dealer.recv_multipart()).header
    assert error["code"] == "bad_request" and "req" not in error and error["about"] == "ping"


def test_a_cancelled_job_reads_cancelled_in_status(dealer):
    job = f"cancel-{time.monotonic_ns()}"
    _send(dealer, {"op": "generate", "job": job, "duration": 600.0, "sample_rate": 8_000,
                   "steps": 1000})
    _until(dealer, job, ("accepted",))
    _send(dealer, {"op": "cancel", "job": job, "req": "c1"})
    assert _until(dealer, job, ("error",)).header["code"] == "cancelled"
    _send(dealer, {"op": "status", "job": job, "req": "s1"})
    assert _until(dealer, job, ("status",)).header["state"] == "cancelled"
