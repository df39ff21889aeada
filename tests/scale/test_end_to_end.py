"""`mfmjt extract` + `mfmjt train features` as commands, on 1 and 2 processes (torchrun, gloo).

Two-process extraction writes the shards one process writes; a one-process training run killed
(SIGKILL) after its first checkpoint and started again logs the same losses as a two-process
run of the same command, and its export is a model file that generates sound.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.scale.helpers import DURATION, ROOT, losses, run_group, same_shard, torchrun


def train_args(data, out) -> list[str]:
    sets = ["steps=4", "batch_size=4", "log_every=1", "checkpoint_every=2", "optim.warmup_steps=2"]
    return ["train", "features", "--data", str(data), "--variant", "tiny_test", "--out", str(out),
            *(a for s in sets for a in ("--set", s))]


def kill_after_first_checkpoint(cmd: list[str], env: dict, checkpoint, timeout: float = 120) -> int:
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


@pytest.mark.slow
def test_extract_and_train_on_one_and_two_processes(media_folder, extracted, tmp_path):
    from mfmjt_core.model import AudioModel
    from mfmjt_core.pipeline.generator import Generator

    one_process_features, _, _ = extracted
    features = tmp_path / "features"
    done = torchrun(2, "-m", "mfmjt_cli", "extract", str(media_folder["clips"]), str(features), "--encoders",
                    str(media_folder["model"]), "--duration", str(DURATION), "--shard-size", "2")
    assert "2 skipped" in done.stderr and (features / "index.json").exists()
    for k in range(3):
        shard = f"shard_{k:05d}.safetensors"
        assert same_shard(features / shard, one_process_features / shard)

    one, two = tmp_path / "one", tmp_path / "two"
    command = [sys.executable, "-m", "mfmjt_cli", *train_args(features, one)]
    # one thread per process, as torchrun sets: threads only contend on a small shared CPU
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    assert kill_after_first_checkpoint(command, env, one / "fm" / "train_state.pt") == -signal.SIGKILL
    assert not (one / "meanflow" / "model.safetensors").exists()
    run_group(command, env, timeout=180)  # resumes from the checkpoint
    torchrun(2, "-m", "mfmjt_cli", *train_args(features, two))
    for stage in ("fm", "meanflow"):
        a, b = losses(one / stage), losses(two / stage)
        assert sorted(a) == sorted(b) == [1, 2, 3, 4]
        assert a == pytest.approx(b, rel=2e-3), stage  # the same global batches, summed in another order
        assert (two / stage / "config.json").exists() and (two / stage / "command.txt").exists()

    model = AudioModel.load(two / "meanflow" / "model.safetensors")
    assert model.spec.objective == "meanflow" and model.spec.window_s == DURATION
    result = Generator(model).generate(video=media_folder["clips"] / "clip1.mp4", seed=0, sample_rate=16_000)
    assert result.audio.shape == (1, 1, int(DURATION * 16_000))
