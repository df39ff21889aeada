"""`mfmjt bench` measures every stage and writes its numbers as JSON."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "mfmjt_cli", "bench", "--model", "tiny-random", "--repeats", "1",
                           "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    for stage in ("decode_video", "encode_clip", "encode_sync", "encode_text", "network_eval", "codec_decode",
                  "resample_48k"):
        assert data["stages_s"][stage] > 0
    assert set(data["sampling_s"]) == {"meanflow_1_steps", "flow_matching_25_steps"}
    assert data["speedup_network"] > 1 and data["rtf"]["meanflow_1_steps"] > 0 and data["peak_memory_mb"] > 0
    assert "one step vs 25 steps" in proc.stdout
