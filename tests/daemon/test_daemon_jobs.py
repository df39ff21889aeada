"""Several clients, fairness, cancellation and re-sent requests (vanished clients: test_daemon_faults.py)."""

from __future__ import annotations

import time

import zmq
from daemon_testing import LONG_JOB, token
from daemon_testing import wait_for as _wait
from mfmjt_daemon import protocol
from mfmjt_daemon.client import Client


def _running(client: Client, job) -> bool:
    client.poll(0.05)
    return job.state == "running" and job.progress is not None and job.progress.stage not in ("queued", "starting")


def test_three_clients_interleave_fairly(daemon):
    with Client(daemon.address, timeout=3.0) as blocker_client:
        blocker = blocker_client.submit(**LONG_JOB)
        _wait(lambda: _running(blocker_client, blocker), 30, what="the blocker to run")
        clients = [Client(daemon.address, timeout=3.0) for _ in range(3)]
        try:
            jobs = []
            for name, c in zip("ABC", clients):
                for i in range(3):
                    jobs.append((name, c, c.submit(prompt=f"{name}{i}", duration=1.0, seed=i, sample_rate=16_000,
                                                   job=f"{name}-{i}")))
            _wait(lambda: all(j.state == "queued" for _, _, j in jobs), 10,
                  step=lambda: [c.poll(0.01) for c in clients], what="all nine jobs queued")
            blocker_client.cancel(blocker)
            _wait(lambda: all(j.done for _, _, j in jobs), 60,
                  step=lambda: [c.poll(0.01) for c in clients], what="nine results")
        finally:
            for c in clients:
                c.close()
        _wait(lambda: blocker.done, 10, step=lambda: blocker_client.poll(0.05), what="the blocker to stop")
        assert blocker.error is not None and blocker.error.code == "cancelled"
    assert all(j.result is not None for _, _, j in jobs), [j.error for _, _, j in jobs]
    started = [j.id for _, _, j in sorted(jobs, key=lambda t: t[2].result.header["seq"])]
    # Three rounds, each client once per round (the order within a round follows arrival,
    # which three connections do not fix), each client's jobs in its own order.
    rounds = [started[i:i + 3] for i in (0, 3, 6)]
    assert [sorted(r) for r in rounds] == [[f"{c}-{i}" for c in "ABC"] for i in range(3)], started


def test_cancel_mid_job(client):
    job = client.submit(**LONG_JOB)
    _wait(lambda: _running(client, job), 30, what="the job to run")
    reply = client.cancel(job)
    assert reply["state"] == "cancelling"
    cancelled_at = time.monotonic()
    _wait(lambda: job.done, 10, step=lambda: client.poll(0.05), what="the cancelled job to end")
    assert job.error is not None and job.error.code == "cancelled"
    assert time.monotonic() - cancelled_at < 5.0
    assert client.cancel(job.id)["state"] == "cancelled"  # finished (as cancelled): cancelling again is harmless
    assert client.status()["running"] == 0
    # Cancelling a job that is still waiting removes it at once.
    first, second = client.submit(**LONG_JOB), client.submit(**LONG_JOB)
    _wait(lambda: _running(client, first), 30, what="the first job to run")
    assert client.cancel(second)["state"] == "cancelled"
    client.cancel(first)
    _wait(lambda: first.done and second.done, 10, step=lambda: client.poll(0.05), what="both jobs to end")
    assert first.error.code == second.error.code == "cancelled"


def _raw_socket(address: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    return sock


def _collect(sock: zmq.Socket, until, timeout: float = 20.0) -> list[protocol.Message]:
    messages = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(messages):
        if sock.poll(100):
            messages.append(protocol.decode(sock.recv_multipart()))
    assert until(messages), [m.header for m in messages]
    return messages


def test_resent_request_does_not_start_a_second_job(daemon, client):
    sock = _raw_socket(daemon.address)
    try:
        completed = client.status()["completed"]
        request = protocol.encode({"op": "generate", "job": "dup-1", "prompt": "once", "duration": 1.0, "seed": 4,
                                   "token": token(),
                                   "sample_rate": 16_000})
        sock.send_multipart(request)
        sock.send_multipart(request)
        got = _collect(sock, lambda ms: any(m.op == "result" for m in ms)
                       and sum(m.op in ("accepted", "result") for m in ms) >= 3)
        accepted = [m.header for m in got if m.op == "accepted"]
        results = [m for m in got if m.op == "result"]
        assert accepted[0]["duplicate"] is False
        # The copy arrived while the job was waiting or running (accepted again), or after it
        # finished (the same result again); either way one job ran.
        assert len(accepted) + len(results) == 3 and all(a["duplicate"] for a in accepted[1:])
        assert client.status()["completed"] == completed + 1
        sock.send_multipart(request)  # after the answer: the kept answer comes again
        again = _collect(sock, lambda ms: any(m.op == "result" for m in ms))
        assert bytes(again[-1].blobs["audio"]) == bytes(results[0].blobs["audio"])
        assert client.status()["completed"] == completed + 1
        changed = protocol.encode({"op": "generate", "job": "dup-1", "prompt": "other", "duration": 1.0,
                                   "token": token()})
        sock.send_multipart(changed)
        conflict = _collect(sock, lambda ms: any(m.op == "error" for m in ms))[-1].header
        assert conflict["code"] == "job_conflict" and conflict["job"] == "dup-1"
    finally:
        sock.close(0)



def test_the_daemon_warms_up_before_it_says_ready(daemon):
    """A short text-only generation runs before "ready on", so the first editor request does not
    pay for lazy loading; it goes through no job queue (nothing is queued or answered for it)."""
    log = daemon.log()
    assert "warmed up cpu in" in log and log.index("warmed up cpu in") < log.index("ready on")
    assert "queued at" not in log.split("ready on")[0]
