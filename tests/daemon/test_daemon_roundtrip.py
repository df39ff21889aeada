"""Round trips through a real daemon process: text and video jobs, the CLI, the overhead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave

import numpy as np
import pytest
from mfmjt_daemon.client import Client, DaemonError, write_wav


def test_hello_ping_status(client):
    hello = client.hello()
    assert 1 in hello["versions"] and hello["workers"] == 1 and hello["paths"] is True
    assert hello["models"] and hello["models"][0]["device"] == "cpu"
    assert hello["limits"]["max_message_bytes"] == 16 * 2**20
    assert 0 < client.ping() < 1.0
    status = client.status()
    assert status["workers"] == 1 and status["stopping"] is False
    assert client.status("never-submitted")["state"] == "unknown"


def test_text_job_round_trip_is_reproducible(client, tmp_path):
    progress = []
    a = client.generate(prompt="rain on a tin roof", duration=2.0, seed=11, channels=2, sample_rate=48_000,
                        progress=progress.append)
    assert (a.variations, a.channels, a.sample_rate, a.samples) == (1, 2, 48_000, 96_000)
    assert a.seeds == (11,) and a.duration == pytest.approx(2.0)
    audio = a.to_numpy()
    assert audio.shape == (1, 2, 96_000) and np.isfinite(audio).all() and audio.std() > 0
    assert progress and all(0.0 <= p.fraction <= 1.0 for p in progress)
    b = client.generate(prompt="rain on a tin roof", duration=2.0, seed=11, channels=2, sample_rate=48_000)
    assert bytes(a.audio) == bytes(b.audio)  # same seed, same request: same audio
    c = client.generate(prompt="rain on a tin roof", duration=2.0, seed=12, channels=2, sample_rate=48_000)
    assert bytes(a.audio) != bytes(c.audio)
    path = write_wav(tmp_path / "rain.wav", a)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 3, 48_000, 96_000)


def test_video_job_by_path_and_by_bytes_agree(client, clip):
    params = dict(start=1.0, end=3.0, seed=5, variations=2, sample_rate=16_000)
    by_path = client.generate(clip, send="path", **params)
    by_bytes = client.generate(clip.read_bytes(), video_format="mp4", **params)
    for r in (by_path, by_bytes):
        assert (r.variations, r.channels, r.sample_rate, r.samples) == (2, 1, 16_000, 32_000)
        assert r.start == pytest.approx(1.0) and r.duration == pytest.approx(2.0)
    assert by_path.seeds == by_bytes.seeds and by_path.seeds[0] == 5
    assert bytes(by_path.audio) == bytes(by_bytes.audio)
    # The same range given in frames at 25 fps.
    by_frames = client.generate(clip, start_frame=25, end_frame=75, fps=(25, 1), seed=5, variations=2,
                                sample_rate=16_000)
    assert bytes(by_frames.audio) == bytes(by_path.audio)


def test_bad_video_fails_the_job_only(client, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    for video in (junk, junk.read_bytes()):
        with pytest.raises(DaemonError) as info:
            client.generate(video, seed=1)
        assert info.value.code == "bad_media"
    with pytest.raises(DaemonError) as info:
        client.generate(tmp_path / "missing.mp4", send="path")
    assert info.value.code == "bad_media"
    assert client.generate(prompt="ok", duration=1.0, sample_rate=16_000).samples == 16_000


def test_cli_client_writes_wav_files(daemon, tmp_path):
    out = tmp_path / "take.wav"
    cmd = [sys.executable, "-m", "mfmjt_cli", "client", "--address", daemon.address, "--prompt", "wind",
           "--duration", "1.5", "--seed", "3", "--variations", "2", "--sample-rate", "24000", "-o", str(out),
           "--json", "--quiet"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    meta = json.loads(run.stdout)
    assert meta["seeds"][0] == 3 and meta["files"] == [str(out), str(tmp_path / "take_2.wav")]
    for path in meta["files"]:
        with wave.open(path) as w:
            assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 24_000, 36_000)
    bad = subprocess.run([*cmd[:6], "/no/such/clip.mp4"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 3 and "not a file" in bad.stderr


def test_round_trip_overhead_8s_48k_stereo(client, record_property):
    """Transport overhead: client wall time minus the generator's own stage timings (and, more
    strictly, minus the worker's whole run time)."""
    client.generate(prompt="warm-up", duration=8.0, channels=2, sample_rate=48_000)
    beyond_stages, beyond_run = [], []
    for seed in range(3):
        start = time.perf_counter()
        result = client.generate(prompt="engine idle", duration=8.0, seed=seed, channels=2, sample_rate=48_000)
        total = time.perf_counter() - start
        assert result.samples == 384_000 and len(result.audio) == 384_000 * 2 * 4
        beyond_stages.append(total - sum(result.timings.values()))
        beyond_run.append(total - result.header["run_s"])
    median = lambda xs: sorted(xs)[len(xs) // 2]
    record_property("overhead_s", median(beyond_stages))
    print(f"\nround trip, 8 s 48 kHz stereo (3 MB float32): total minus stage timings "
          f"{median(beyond_stages) * 1000:.1f} ms, total minus the worker's run time "
          f"{median(beyond_run) * 1000:.1f} ms (medians of 3)")
    assert median(beyond_run) < 0.25


def test_requests_from_several_connections_are_kept_apart(daemon):
    with Client(daemon.address, timeout=3.0) as a, Client(daemon.address, timeout=3.0) as b:
        ja = a.submit(prompt="a", duration=1.0, job="same-id", sample_rate=16_000, seed=1)
        jb = b.submit(prompt="b", duration=1.0, job="same-id", sample_rate=16_000, seed=2)
        deadline = time.monotonic() + 30
        while not (ja.done and jb.done) and time.monotonic() < deadline:
            a.poll(0.05), b.poll(0.05)
        assert ja.result.seeds == (1,) and jb.result.seeds == (2,)


def test_one_duration_limit_from_the_daemon_to_the_pipeline(client):
    # Over the daemon's limit (1000 s here): refused before any work, the message names the limit.
    with pytest.raises(DaemonError) as info:
        client.generate(prompt="too long", duration=1200.0)
    assert info.value.code == "too_large" and "1000 s (max_seconds)" in info.value.message
    # Within it, though past the pipeline's own default (600 s): the job runs (it used to fail
    # mid-job with `resource`); cancelled once it is running.
    job = client.submit(prompt="long", duration=700.0, sample_rate=16_000)
    deadline = time.monotonic() + 60
    while job.state != "running" and not job.done and time.monotonic() < deadline:
        client.poll(0.05)
        if job.progress is not None and job.progress.stage not in ("queued", "starting"):
            break
    client.cancel(job)
    while not job.done and time.monotonic() < deadline:
        client.poll(0.05)
    assert job.error is not None and job.error.code == "cancelled", job.error
    assert client.generate(prompt="fine", duration=1.0, sample_rate=16_000).samples == 16_000


def test_cli_client_refuses_an_upload_the_daemon_would_drop_at_once(daemon, tmp_path):
    # the shared daemon takes 16 MiB: a 20 MB upload was re-sent three times and ended as 'no answer'
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(20 * 2**20))
    cmd = [sys.executable, "-m", "mfmjt_cli", "client", "--address", daemon.address, str(big), "--send", "bytes",
           "--timeout", "3", "-o", str(tmp_path / "t.wav"), "--quiet"]
    began = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and time.monotonic() - began < 20, run.stderr
    assert "is 20.0 MiB; this daemon takes requests up to 16.0 MiB" in run.stderr and "[too_large]" in run.stderr
    assert not (tmp_path / "t.wav").exists()


def test_cli_client_sends_bytes_to_a_daemon_that_reads_no_paths(start_daemon, clip, tmp_path):
    remote_like = start_daemon("--no-allow-paths")
    out = tmp_path / "take.wav"
    run = subprocess.run([sys.executable, "-m", "mfmjt_cli", "client", "--address", remote_like.address, str(clip),
                          "--end", "1", "--seed", "2", "-o", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr  # (sent as a path it is refused: 'does not read local paths')
    with wave.open(str(out)) as w:
        assert w.getnframes() == w.getframerate()  # one second of the clip, sent as bytes


def test_progress_arrives_stage_by_stage_in_the_pipelines_order(client, clip):
    """The panel shows what each event says: stages once each per window, in order, and a fraction
    that never goes back (events carried the job's state at sending time, and the pipeline said
    'sample' again after each window's decode)."""
    import re

    for request in ({"video": clip, "end": 4.0}, {"prompt": "rain", "duration": 20.0}):
        seen = []
        client.generate(**request, seed=1, progress=seen.append)
        stages = [p.stage for p in seen]
        runs = [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]
        assert re.fullmatch(r"(queued )?(starting )?(encode sample decode_audio )+resample", " ".join(runs)), runs
        fractions = [p.fraction for p in seen if p.stage not in ("queued", "starting")]
        assert fractions == sorted(fractions), fractions
