"""`scripts/train_gpu.sh`, the prepared GPU session, run dry on the CPU: the path a lent device
takes, so a session that gets one does not spend its 15 minutes on a broken script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_gpu.sh"


def _dry_run(tmp_path: Path, mode: str, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEVICE": "cpu", "MINUTES": "3", "FM_STEPS": "2", "MF_STEPS": "2", "BATCH": "2",
           "WORKERS": "0", "MODE": mode, "RUN": str(tmp_path / "run"), "PYTHON": sys.executable,
           "OMP_NUM_THREADS": "1", **extra}
    return subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], env=env, capture_output=True, text=True,
                          timeout=600)


def test_flow_first_trains_a_flow_then_converts_it_and_brings_both_back(tmp_path):
    from mfmjt_core.model.file import read_model

    done = _dry_run(tmp_path, "flow-first", PICTURE_AUGMENT="1.0")
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "out"
    for stage in ("fm", "continue"):
        assert (out / f"{stage}.safetensors").exists() and (out / f"{stage}.log.jsonl").exists()
    _, config = read_model(out / "model.safetensors")
    training = config["training"]
    # the model handed back is the conversion, started from this session's own flow
    assert training["stage"] == "continue" and training["from"]["stage"] == "fm"
    assert training["picture_augment"] == 1.0 and training["from"]["picture_augment"] == 1.0
    assert (out / "model.safetensors").read_bytes() == (out / "continue.safetensors").read_bytes()
    log = (out / "train.log").read_text()
    assert "run/fm/model.safetensors" in log and "run/continue/model.safetensors" in log


def test_bad_settings_are_refused_before_anything_is_touched(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "train.log").write_text("the last session's log\n")
    done = _dry_run(tmp_path, "flow-last")
    assert done.returncode == 2 and "MODE must be" in done.stderr
    done = _dry_run(tmp_path, "flow-first", FM_SHARE="1")
    assert done.returncode == 2 and "FM_SHARE" in done.stderr
    for strength in ("2", "-1", "strong"):
        done = _dry_run(tmp_path, "flow-first", PICTURE_AUGMENT=strength)
        assert done.returncode == 2 and "PICTURE_AUGMENT" in done.stderr
    assert not (tmp_path / "run").exists()
    assert (tmp_path / "out" / "train.log").read_text() == "the last session's log\n"
