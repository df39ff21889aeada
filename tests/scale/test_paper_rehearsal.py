"""The paper-scale recipe rehearsed end to end, as a user with GPUs runs it, on a tiny bundle in
MMAudio's published layouts (random weights, `$MFMJT_BUNDLE_SHAPES` naming its sizes):

  mfmjt extract --encoders mmaudio:BUNDLE  ->  torchrun (2 gloo processes) mfmjt train features
  --init BUNDLE (MeanFlow, folded guidance)  ->  the exported model file  ->  mfmjt serve --model
  ->  the Python client  ->  a WAV of the exact length;  then mfmjt distill BUNDLE  ->  the same.

Every step is the real command in its own process. The daemons run without the shapes file:
the model files alone say which bundle (and sizes) they need, and a cache without the bundle
is refused at start-up with the fetch command.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from tests.scale.helpers import ROOT, run_group, torchrun

BUNDLE = "mmaudio-small-16k"
CLIP_S = 2.0
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory) -> dict:
    from mfmjt_cli.entry import main
    from tests.weights.tiny_bundle import SHAPES, write_tiny_bundle

    base = tmp_path_factory.mktemp("paper")
    write_tiny_bundle(base / "cache")
    shapes = base / "shapes.json"  # a bundle trained on 2-s windows, so 2-s clips make whole windows
    network = dataclasses.replace(SHAPES.network, sequence=SHAPES.network.sequence.with_duration(CLIP_S))
    shapes.write_text(json.dumps({BUNDLE: dataclasses.replace(SHAPES, network=network).to_dict()}))
    videos = base / "videos"  # captioned clips of the world (sidecar captions), 64x64, 2 s
    assert main(["synth", str(videos), "--split", "train", "-n", "4", "--size", "64",
                 "--duration", str(CLIP_S)]) == 0
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(MFMJT_CACHE=str(base / "cache"), MFMJT_BUNDLE_SHAPES=str(shapes), OMP_NUM_THREADS="1",
               PYTHONWARNINGS="ignore")
    return {"base": base, "videos": videos, "env": env, "clip": min(videos.glob("*.mp4"))}


def mfmjt(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_group([sys.executable, "-m", "mfmjt_cli", *args], env, timeout)


def serve(model: Path, env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    from tests.daemon_process import free_port

    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mfmjt_cli", "serve", "--model", str(model),
                                 "--port", str(port), "--heartbeat", "0.5"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out)
    deadline = time.monotonic() + 120
    while "ready on" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"daemon did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    return proc, f"tcp://127.0.0.1:{port}"


def generate_wav(model: Path, env: dict, clip: Path, out: Path) -> wave.Wave_read:
    """The model through a real daemon and the Python client: a 1.5 s range of `clip` as a WAV."""
    from mfmjt_daemon.client import Client
    from mfmjt_daemon.wav import write_wav

    served = {k: v for k, v in env.items() if k != "MFMJT_BUNDLE_SHAPES"}  # the file must say it all
    proc, address = serve(model, served, out.with_suffix(".log"))
    try:
        with Client(address, timeout=5.0, retries=2) as client:
            result = client.generate(clip, send="path", start=0.25, end=1.75, seed=3, sample_rate=16_000,
                                     max_wait=120)
        path = write_wav(out, result)
    finally:
        proc.kill()
        proc.wait(10)
    assert result.samples == 24_000 and result.model
    return wave.open(str(path))


def test_extract_train_serve_and_distill(rehearsal, tmp_path):
    from mfmjt_core.model.file import read_model

    env, videos = rehearsal["env"], rehearsal["videos"]
    clock = {"start": time.monotonic()}
    features = tmp_path / "features"
    mfmjt(env, "extract", str(videos), str(features), "--encoders", f"mmaudio:{BUNDLE}",
          "--duration", str(CLIP_S), "--shard-size", "2")
    index = json.loads((features / "index.json").read_text())
    assert index["rows"] == 4 and index["clip_shape"] == [16, 16] and index["latent_shape"][1] == 20
    clock["extract"] = time.monotonic()

    run = tmp_path / "run"
    overrides = ["steps=2", "batch_size=4", "log_every=1", "checkpoint_every=2", "optim.warmup_steps=1",
                 "objective.omega=2.0"]
    torchrun(2, "-m", "mfmjt_cli", "train", "features", "--data", str(features), "--init", BUNDLE,
             "--stages", "meanflow", "--out", str(run), *(a for s in overrides for a in ("--set", s)),
             timeout=300, env=env)
    model = run / "meanflow" / "model.safetensors"
    tensors, config = read_model(model)
    assert all(k.startswith("net.") for k in tensors)  # the bundle's encoders and codec are named, not copied
    assert config["encoders"]["bundle"] == config["codec"]["bundle"] == BUNDLE
    assert config["objective"] == "meanflow" and config["training"]["folded_guidance"] == 2.0
    assert config["defaults"]["steps"] == 1 and config["defaults"]["guidance"] == 1.0  # not guided twice
    assert [json.loads(line)["step"] for line in (run / "meanflow" / "log.jsonl").read_text().splitlines()
            if "loss" in json.loads(line)] == [1, 2]
    clock["train"] = time.monotonic()

    with generate_wav(model, env, rehearsal["clip"], tmp_path / "trained.wav") as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 16_000, 24_000)
    clock["serve"] = time.monotonic()

    student_run = tmp_path / "distill"
    mfmjt(env, "distill", BUNDLE, "--data", str(videos), "--out", str(student_run), "--steps", "2",
          "--batch-size", "4", "--group", "2", "--teacher-steps", "2", "--threads", "1")
    student = student_run / "model.safetensors"
    _, config = read_model(student)
    assert config["encoders"]["bundle"] == BUNDLE and config["objective"] == "meanflow"
    assert config["training"]["distilled_from"] == BUNDLE and config["defaults"]["guidance"] == 1.0
    with generate_wav(student, env, rehearsal["clip"], tmp_path / "student.wav") as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 16_000, 24_000)
    clock["distill"] = time.monotonic()
    marks = list(clock)
    print("rehearsal seconds: " + ", ".join(
        f"{b} {clock[b] - clock[a]:.1f}" for a, b in zip(marks, marks[1:])))


def test_a_cache_without_the_bundle_is_refused_at_start_with_the_fetch_command(rehearsal, tmp_path):
    """The model file names a bundle the user has not fetched: the daemon says what to run."""
    from mfmjt_core.model.published import load_published, save_meanflow_start
    from tests.weights.tiny_bundle import SHAPES

    model = save_meanflow_start(load_published(BUNDLE, cache=rehearsal["base"] / "cache", shapes=SHAPES),
                                tmp_path / "start.safetensors")
    env = dict(rehearsal["env"], MFMJT_CACHE=str(tmp_path / "empty-cache"))
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.run([sys.executable, "-m", "mfmjt_cli", "serve", "--model", str(model), "--port", "0"],
                              cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=out, timeout=120)
    text = log.read_text()
    assert proc.returncode != 0 and "ready on" not in text
    assert f"uses the encoders and codec of {BUNDLE}" in text and f"mfmjt fetch {BUNDLE}" in text
