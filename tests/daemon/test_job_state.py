"""The job state machine every editor shows, and its heartbeat against a real daemon: killed,
shut down, restarted, cancelled."""

from __future__ import annotations

import signal
import time

from daemon_testing import LONG_JOB, wait_for
from mfmjt_daemon import job_state as js
from mfmjt_daemon.client import Client


def test_stages_map_to_phases_in_order():
    s = js.JobState("j", now=0.0)
    seen = [s.phase]
    for t, (stage, fraction) in enumerate([("queued", 0), ("starting", 0), ("encode", 0.1), ("sample", 0.2),
                                          ("sample", 0.6), ("decode_audio", 0.9), ("resample", 1.0)], 1):
        s.on_progress(stage, fraction, None, now=float(t))
        if s.phase != seen[-1]:
            seen.append(s.phase)
    s.on_result(now=9.0)
    assert seen + [s.phase] == ["queued", "encoding", "sampling", "decoding", "done"]
    assert s.text(9.0) == "done"


def test_cancelling_stays_until_the_daemon_confirms():
    s = js.JobState("j", now=0.0)
    s.on_progress("sample", 0.3, 5.0, now=1.0)
    assert s.request_cancel(now=1.5)
    for t in (2.0, 3.0, 4.6):  # progress still arriving (the worker stops at its next check)
        s.on_progress("sample", 0.35, 4.0, now=t)
        assert s.phase == "cancelling"
        assert s.text(t) == "cancelling, waiting for the daemon to confirm"
    s.on_error("cancelled", "generation cancelled", now=5.0)
    assert (s.phase, s.text(5.0)) == ("cancelled", "cancelled: you cancelled")
    s.on_progress("sample", 0.4, 1.0, now=6.0)  # a late event changes nothing
    assert s.phase == "cancelled" and not s.request_cancel(now=6.0)


def test_a_result_that_beats_the_cancel_is_done():
    s = js.JobState("j", now=0.0)
    s.request_cancel(now=1.0)
    s.on_result(now=1.1)
    assert s.phase == "done"


def test_reasons_name_the_cause_and_keep_the_daemons_words_whole():
    long_message = "could not decode frame 17 of /media/a folder with a long name/clip.mov: " + "x" * 300
    cases = {
        ("cancelled", "generation cancelled"): "cancelled: you cancelled",
        ("shutting_down", "the daemon is shutting down; submit again later"):
            "failed: the daemon shut down (the daemon is shutting down; submit again later)",
        ("unavailable", "nothing heard for 4 s"): "failed: the daemon stopped answering (nothing heard for 4 s)",
        ("resource", "out of memory while generating; try a shorter range"):
            "failed: out of memory (out of memory while generating; try a shorter range)",
        ("internal", "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"):
            "failed: out of memory (RuntimeError: CUDA out of memory. Tried to allocate 2 GiB)",
        ("bad_media", long_message): f"failed: bad media ({long_message})",
    }
    for (code, message), text in cases.items():
        s = js.JobState("j", now=0.0)
        s.on_error(code, message, now=1.0)
        assert s.text(1.0) == text


def test_eta_counts_down_and_keepalives_do_not_grow_it():
    s = js.JobState("j", now=0.0)
    s.on_progress("sample", 0.5, 10.0, now=10.0)
    assert s.eta(10.0) == 10.0 and s.text(10.0) == "sampling 50 %, about 10 s left"
    # The daemon repeats the same report every heartbeat with an estimate that grows (elapsed
    # time over a fraction that has not moved): the count-down goes on.
    s.on_progress("sample", 0.5, 14.0, now=14.0)
    assert s.eta(14.0) == 6.0
    assert s.text(30.0) == "sampling 50 %, finishing"


def test_eta_comes_from_the_current_stages_report():
    s = js.JobState("j", now=0.0)
    s.on_progress("encode", 0.05, 50.0, now=0.0)
    s.on_progress("sample", 0.3, 20.0, now=10.0)  # the new stage's report replaces the old guess
    assert s.eta(12.0) == 18.0
    s.on_progress("sample", 0.3, 25.0, now=13.0)  # a keep-alive of the same report
    assert s.eta(13.0) == 17.0
    s.on_progress("decode_audio", 0.95, None, now=18.0)  # a new stage without a guess: none shown
    assert s.eta(18.0) is None and s.text(18.0) == "decoding 95 %"


def test_heartbeat_pings_after_one_second_and_gives_up_after_four():
    hb = js.Heartbeat()
    assert hb.action(now=10.5, heard_at=10.0, pinged_at=None) is None
    assert hb.action(now=11.0, heard_at=10.0, pinged_at=None) == "ping"
    assert hb.action(now=11.5, heard_at=10.0, pinged_at=11.0) is None
    assert hb.action(now=12.0, heard_at=10.0, pinged_at=11.0) == "ping"
    assert hb.action(now=14.0, heard_at=10.0, pinged_at=13.0) == "give_up"


def _follow(client: Client, watch: js.JobWatch, until, timeout: float) -> float:
    """Poll and tick as an editor's timer does (every 50 ms) until `until()`; seconds taken."""
    start = time.monotonic()
    wait_for(until, timeout, step=lambda: (watch.feed(client.poll(0.05), time.monotonic()),
                                           watch.tick(client, time.monotonic())), what="the job state")
    return time.monotonic() - start


def _running(client, watch, job):
    _follow(client, watch, lambda: watch.jobs[job].phase in ("encoding", "sampling", "decoding"), 60)


def test_a_killed_daemon_is_noticed_within_five_seconds(start_daemon):
    daemon = start_daemon()
    with Client(daemon.address, timeout=10.0) as client:  # the client's own retry is far slower
        watch = js.JobWatch()
        job = client.submit(**LONG_JOB)
        watch.track(job.id, time.monotonic())
        _running(client, watch, job.id)
        daemon.kill()
        taken = _follow(client, watch, lambda: watch.jobs[job.id].finished, 8)
        assert taken < 5.0
        assert watch.jobs[job.id].reason == "the daemon stopped answering" and watch.lost


def test_sigterm_is_told_as_the_daemon_shut_down(start_daemon):
    daemon = start_daemon()
    with Client(daemon.address) as client:
        watch = js.JobWatch()
        job = client.submit(**LONG_JOB)
        watch.track(job.id, time.monotonic())
        _running(client, watch, job.id)
        daemon.proc.send_signal(signal.SIGTERM)
        _follow(client, watch, lambda: watch.jobs[job.id].finished, 10)
        state = watch.jobs[job.id]
        assert (state.phase, state.reason) == ("failed", "the daemon shut down"), state.text(0)
        assert daemon.proc.wait(20) == 0


def test_cancel_without_waiting_then_confirmed(daemon):
    with Client(daemon.address) as client:
        watch = js.JobWatch()
        job = client.submit(**LONG_JOB)
        watch.track(job.id, time.monotonic())
        _running(client, watch, job.id)
        assert watch.cancel(client, job.id, time.monotonic())
        assert watch.jobs[job.id].phase == "cancelling"
        _follow(client, watch, lambda: watch.jobs[job.id].finished, 10)
        assert watch.jobs[job.id].text(0) == "cancelled: you cancelled"


def test_a_request_reported_failed_never_runs_when_the_daemon_returns(start_daemon):
    first = start_daemon()
    port = first.port
    with Client(first.address, timeout=1.0, retries=50) as client:
        watch = js.JobWatch()
        client.ping()
        first.kill()
        # Submitted while nothing answers; the client's own lazy pirate would keep re-sending
        # it (50 retries): only the heartbeat stands between it and a daemon that comes back.
        job = client.submit(prompt="stale", duration=2.0, sample_rate=16_000)
        watch.track(job.id, time.monotonic())
        _follow(client, watch, lambda: watch.jobs[job.id].finished, 8)
        assert watch.jobs[job.id].reason == "the daemon stopped answering"
        second = start_daemon(port=port)
        _follow(client, watch, lambda: not watch.lost, 30)  # heard through the fresh socket
        fresh = client.submit(prompt="fresh", duration=1.0, sample_rate=16_000)
        watch.track(fresh.id, time.monotonic())
        _follow(client, watch, lambda: watch.jobs[fresh.id].finished, 60)
        assert watch.jobs[fresh.id].phase == "done"
        time.sleep(1.5)  # anything stale would have arrived by now
        counts = client.status()
        assert counts.get("completed") == 1, counts
        assert job.id not in second.log()


def test_silence_before_a_job_was_tracked_does_not_count():
    class QuietClient:  # heard long ago, e.g. an editor's client idle for minutes
        heard_at, pings, gave_up = 0.0, 0, False

        def ping_nowait(self):
            self.pings += 1

        def give_up(self, message):
            self.gave_up = True

    client, watch = QuietClient(), js.JobWatch()
    watch.track("j", now=600.0)
    assert watch.tick(client, now=600.1) is None
    assert watch.tick(client, now=601.0) == "ping" and client.pings == 1
    assert watch.tick(client, now=604.0) == "give_up" and client.gave_up
    assert watch.jobs["j"].text(604.0) == "failed: the daemon stopped answering (nothing heard for 4 s)"
