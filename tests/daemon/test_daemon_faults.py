"""Faults a user can cause: a killed or reloading client, a job that runs too long, one client
flooding the queue, bad `serve` flags."""

from __future__ import annotations

import subprocess
import sys
import time

from daemon_testing import LONG_JOB, wait_for
from mfmjt_daemon.client import Client

# A job that samples for a long time in small steps: plenty of moments to stop it.
SLOW_JOB = dict(prompt="slow", duration=8.0, steps=1000, sample_rate=16_000, seed=5)

_KILLED_CLIENT = """
import sys, time
from mfmjt_daemon.client import Client
c = Client(sys.argv[1], timeout=3.0)
job = c.submit(**{job})
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    c.poll(0.05)
    if job.progress is not None and job.progress.stage == "sample":
        print("running", flush=True)
        break
time.sleep(120)
"""


def _sampling(client: Client, job) -> bool:
    client.poll(0.02)
    return job.progress is not None and job.progress.stage not in ("queued", "starting")


def test_a_killed_clients_job_frees_the_worker_for_a_waiting_job_within_3_s(daemon, client):
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_CLIENT.replace("{job}", repr(SLOW_JOB)), daemon.address],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        waiting = client.submit(prompt="next", duration=1.0, sample_rate=16_000, seed=1)
        wait_for(lambda: waiting.state == "queued", 10, step=lambda: client.poll(0.02), what="the job to queue")
        proc.kill()
        killed_at = time.monotonic()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_for(lambda: _sampling(client, waiting) or waiting.done, 30, what="the waiting job to start")
    latency = time.monotonic() - killed_at
    assert latency < 3.0, latency  # before: the killed client's window held the worker 41 s
    wait_for(lambda: waiting.done, 30, step=lambda: client.poll(0.05), what="its result")
    assert waiting.result is not None and waiting.result.samples == 16_000
    assert daemon.wait_log("stopping its job", 5)


def test_a_client_that_reconnects_within_the_grace_keeps_its_jobs(daemon):
    identity = f"editor-{time.monotonic_ns()}"
    first = Client(daemon.address, timeout=3.0, identity=identity)
    running = first.submit(**SLOW_JOB, job="kept-running")
    first.submit(prompt="after", duration=1.0, sample_rate=16_000, seed=2, job="kept-queued")
    wait_for(lambda: _sampling(first, running), 60, what="the first job to run")
    first.close()  # an add-on reload: the connection goes away with both jobs unfinished
    assert daemon.wait_log("keeping its 2 job(s)", 10)
    time.sleep(2.0)  # longer than the ~1 s the old handover allowed
    with Client(daemon.address, timeout=3.0, identity=identity) as second:
        again = second.submit(**SLOW_JOB, job="kept-running")  # the same request re-sent
        also = second.submit(prompt="after", duration=1.0, sample_rate=16_000, seed=2, job="kept-queued")
        wait_for(lambda: again.state != "sending", 10, step=lambda: second.poll(0.02), what="an answer")
        second.cancel(again)  # no need to wait for 1000 steps: it is the same job, still alive
        wait_for(lambda: again.done and also.done, 60, step=lambda: second.poll(0.05), what="both answers")
        assert again.error is not None and again.error.code == "cancelled"
        assert also.result is not None and also.result.samples == 16_000
    assert daemon.wait_log("is back: 1 job(s) queued again", 5)


def test_after_the_grace_a_resent_job_gets_the_kept_client_gone_error(start_daemon):
    d = start_daemon("--reconnect-grace", "1")
    identity = "reloading-editor"
    first = Client(d.address, timeout=3.0, identity=identity)
    job = first.submit(**LONG_JOB, job="given-up")
    wait_for(lambda: _sampling(first, job), 60, what="the job to run")
    first.close()
    assert d.wait_log("cancelling its job given-up", 15)
    with Client(d.address, timeout=3.0, identity=identity) as second:
        wait_for(lambda: second.status()["running"] == 0, 10, what="the job to stop")
        again = second.submit(**LONG_JOB, job="given-up")
        wait_for(lambda: again.done, 10, step=lambda: second.poll(0.05), what="the kept answer")
        assert again.error is not None and again.error.code == "client_gone"
        assert "did not come back within 1 s" in again.error.message
        assert second.status()["running"] == 0  # it did not run a second time


def test_job_time_limit_and_per_client_queue_share(start_daemon):
    d = start_daemon("--job-timeout", "6", "--max-queue-per-client", "2")
    with Client(d.address, timeout=3.0) as a, Client(d.address, timeout=3.0) as b:
        hello = a.hello()["limits"]
        assert hello["job_timeout_s"] == 6 and hello["max_queue_per_client"] == 2
        # 1000 steps a window: far beyond the 6 s limit even on an idle machine (1 step took < 6 s)
        long_job = a.submit(**{**LONG_JOB, "steps": 1000})
        wait_for(lambda: long_job.state == "running" or long_job.done, 60, step=lambda: a.poll(0.02),
                 what="the long job to start")
        assert not long_job.done, long_job.error
        waiting = [a.submit(prompt=f"w{i}", duration=1.0, sample_rate=16_000, seed=i) for i in range(3)]
        other = b.submit(prompt="b", duration=1.0, sample_rate=16_000, seed=9)
        wait_for(lambda: all(j.state != "sending" for j in waiting), 30, step=lambda: a.poll(0.02), what="answers")
        assert [j.error.code if j.error else j.state for j in waiting] == ["queued", "queued", "busy"]
        assert "limit per client is 2" in waiting[2].error.message
        wait_for(lambda: long_job.done, 60, step=lambda: a.poll(0.05), what="the time limit")
        assert long_job.error.code == "time_limit" and "--job-timeout" in long_job.error.message
        wait_for(lambda: other.done, 60, step=lambda: b.poll(0.05), what="the other client's job")
        assert other.result is not None, other.error


def test_serve_refuses_bad_limits_with_a_usage_error():
    # each of these was taken: a spinning idle loop (heartbeat 0), a port wrapped round to another
    # (99999), a daemon that drops or refuses every request (message, queue, seconds at 0)
    for flag, value in [("--reconnect-grace", "-1"), ("--job-timeout", "0"), ("--job-timeout", "nan"),
                        ("--max-queue-per-client", "0"), ("--max-queue-per-client", "x"), ("--heartbeat", "0"),
                        ("--port", "99999"), ("--max-message-mb", "0"), ("--max-queue", "0"),
                        ("--max-seconds", "0")]:
        done = subprocess.run([sys.executable, "-m", "mfmjt_cli", "serve", flag, value], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2, (flag, value, done.stderr)
        assert "Traceback" not in done.stderr and flag in done.stderr


def test_serve_refuses_an_unknown_device_in_one_line():
    done = subprocess.run([sys.executable, "-m", "mfmjt_cli", "serve", "--model", "tiny-random", "--device", "foo"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "mfmjt serve: unknown device 'foo': use cpu, cuda, cuda:1, mps ..."
