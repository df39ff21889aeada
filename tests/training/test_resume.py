"""Stopping and continuing a training run: SIGTERM or the end of a session checkpoints and exits 75;
the same command again continues bit for bit as if the run had never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mfmjt_core.training.loop import EXIT_RESUMABLE, TrainingStopped, train
from mfmjt_core.training.train_config import ObjectiveConfig, OptimConfig, TrainConfig
from tests.training.toy_task import ToyTask

ROOT = Path(__file__).resolve().parents[2]
# Two short stages of the real recipe (fm then MeanFlow from its export), small batches.
SMALL = ["--set", "steps=4", "--set", "batch_size=2", "--set", "log_every=1", "--set", "checkpoint_every=100",
         "--set", "optim.warmup_steps=1"]


def _config(steps=30):
    return TrainConfig(steps=steps, batch_size=16, seed=5, log_every=5, checkpoint_every=1000,
                       objective=ObjectiveConfig(kind="meanflow"), optim=OptimConfig(lr=3e-3, warmup_steps=3))


def _assert_same_weights(a: Path, b: Path) -> None:
    x, y = load_file(a), load_file(b)
    assert x.keys() == y.keys()
    for k in x:
        assert torch.equal(x[k], y[k]), k


def test_sigterm_checkpoints_between_checkpoints_and_resumes_exactly(tmp_path):
    """The signal comes mid-run, far from a periodic checkpoint: the step under way completes,
    the state is saved at that step, and the next call continues exactly."""
    train(ToyTask(), _config(), tmp_path / "straight", progress=None)

    def kill_at_step_10(record):
        if record["step"] == 10:
            os.kill(os.getpid(), signal.SIGTERM)

    stopped_dir = tmp_path / "stopped"
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingStopped) as info:
        train(ToyTask(), _config(), stopped_dir, progress=kill_at_step_10)
    assert (info.value.step, info.value.reason) == (10, "SIGTERM")
    assert torch.load(stopped_dir / "train_state.pt", weights_only=True)["step"] == 10
    assert not (stopped_dir / "model.safetensors").exists()
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the handler does not outlive training
    train(ToyTask(), _config(), stopped_dir, progress=None)
    _assert_same_weights(tmp_path / "straight" / "model.safetensors", stopped_dir / "model.safetensors")
    state_a = torch.load(tmp_path / "straight" / "train_state.pt", weights_only=True)
    state_b = torch.load(stopped_dir / "train_state.pt", weights_only=True)
    for k in state_a["optimizer"]["state"]:  # Adam's moments too, not only the weights
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(state_a["optimizer"]["state"][k][name], state_b["optimizer"]["state"][k][name])


def test_session_deadline_stops_every_session_and_the_sessions_add_up(tmp_path):
    train(ToyTask(), _config(), tmp_path / "straight", progress=None)
    sessions = 0
    while True:
        sessions += 1
        try:  # a deadline already past: every session does one step
            train(ToyTask(), _config(), tmp_path / "sessions", progress=None, session_deadline=time.monotonic())
            break
        except TrainingStopped as stopped:
            assert stopped.reason == "session" and stopped.step == sessions
    assert sessions == 30
    _assert_same_weights(tmp_path / "straight" / "model.safetensors", tmp_path / "sessions" / "model.safetensors")


def _mfmjt(*args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "mfmjt_cli", "train", "tiny-synth", "--threads", "1", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def _wait_for_first_log_line(proc: subprocess.Popen, log: Path) -> None:
    """Until the run has logged a step (so it is mid-stage), or it has ended."""
    deadline = time.monotonic() + 200
    while not (log.exists() and log.read_text().strip()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.timeout(600)
def test_mfmjt_train_killed_with_sigterm_then_rerun_equals_an_uninterrupted_run(tmp_path):
    """The real command, two stages: SIGTERM during the first, exit 75, the same command again
    finishes both stages with weights identical to a run never stopped."""
    stages = ["--stages", "fm,meanflow"]
    rc, err = _finish(_mfmjt("--out", str(tmp_path / "straight"), *stages, *SMALL))
    assert rc == 0, err

    out = tmp_path / "stopped"
    proc = _mfmjt("--out", str(out), *stages, *SMALL)
    log = out / "fm" / "log.jsonl"
    _wait_for_first_log_line(proc, log)
    proc.send_signal(signal.SIGTERM)
    rc, err = _finish(proc)
    assert rc == EXIT_RESUMABLE, err
    assert "run the same command again" in err
    assert not (out / "meanflow").exists()
    stopped_at = torch.load(out / "fm" / "train_state.pt", weights_only=True)["step"]
    assert 1 <= stopped_at < 4
    assert json.loads(log.read_text().splitlines()[-1])["stopped"] == "SIGTERM"

    rc, err = _finish(_mfmjt("--out", str(out), *stages, *SMALL))
    assert rc == 0, err
    for stage in ("fm", "meanflow"):
        _assert_same_weights(tmp_path / "straight" / stage / "model.safetensors", out / stage / "model.safetensors")


@pytest.mark.timeout(600)
def test_sigterm_to_the_whole_process_group_with_data_workers_still_checkpoints(tmp_path):
    """SLURM, systemd and `kill -- -PGID` signal every process of the job, data-loader workers
    too: the run still stops with exit 75 and a checkpoint (it crashed once: a worker killed by
    the signal took the trainer down before it could save), and the rerun equals a run never
    stopped."""
    args = ["--stages", "fm", "--workers", "1", *SMALL, "--set", "steps=6"]
    rc, err = _finish(_mfmjt("--out", str(tmp_path / "straight"), *args))
    assert rc == 0, err

    out = tmp_path / "stopped"
    proc = _mfmjt("--out", str(out), *args, start_new_session=True)
    log = out / "fm" / "log.jsonl"
    _wait_for_first_log_line(proc, log)
    os.killpg(proc.pid, signal.SIGTERM)
    rc, err = _finish(proc)
    assert rc == EXIT_RESUMABLE, err
    stopped_at = torch.load(out / "fm" / "train_state.pt", weights_only=True)["step"]
    assert 1 <= stopped_at < 6
    assert json.loads(log.read_text().splitlines()[-1])["stopped"] == "SIGTERM"

    rc, err = _finish(_mfmjt("--out", str(out), *args))
    assert rc == 0, err
    _assert_same_weights(tmp_path / "straight" / "fm" / "model.safetensors", out / "fm" / "model.safetensors")


@pytest.mark.timeout(600)
def test_session_minutes_and_the_continue_stage_from_a_model_file(tmp_path):
    """`--session-minutes` ends a session with exit 75; `--init FILE --stages continue` trains on
    from a model file and records where it came from; a rerun skips the finished stage."""
    from mfmjt_core.model import AudioModel

    rc, err = _finish(_mfmjt("--out", str(tmp_path / "base"), "--stages", "fm", *SMALL))
    assert rc == 0, err
    base = tmp_path / "base" / "fm" / "model.safetensors"
    cont = ["--out", str(tmp_path / "more"), "--stages", "continue", "--init", str(base), *SMALL]
    rc, err = _finish(_mfmjt(*cont, "--session-minutes", "0.0001"))
    assert rc == EXIT_RESUMABLE, err
    assert torch.load(tmp_path / "more" / "continue" / "train_state.pt", weights_only=True)["step"] == 1
    snapshot = AudioModel.load(tmp_path / "more" / "continue" / "snapshot.safetensors")  # to evaluate meanwhile
    assert snapshot.spec.training["stage"] == "continue" and "snapshot.safetensors" in err
    rc, err = _finish(_mfmjt(*cont))
    assert rc == 0, err
    model = AudioModel.load(tmp_path / "more" / "continue" / "model.safetensors")
    assert model.spec.training["stage"] == "continue"
    assert model.spec.training["from"]["stage"] == "fm" and model.spec.objective == "meanflow"
    # it started from the given file: four small steps leave the weights close to it
    start, now = load_file(base), load_file(tmp_path / "more" / "continue" / "model.safetensors")
    moved = max(float((now[k].float() - start[k].float()).abs().max()) for k in start if start[k].is_floating_point())
    assert 0 < moved < 0.05
    log_lines = (tmp_path / "more" / "continue" / "log.jsonl").read_text().splitlines()
    rc, err = _finish(_mfmjt(*cont))  # finished: nothing trains again
    assert rc == 0, err
    assert (tmp_path / "more" / "continue" / "log.jsonl").read_text().splitlines() == log_lines
