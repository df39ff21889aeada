"""scripts/measure_training_throughput.py, whose counts docs/training.md quotes: the meta-device
parts (operations and saved activations of every published network) run in seconds."""

from __future__ import annotations

import json

from tests.script_loading import load_script


def test_counts_of_every_network_follow_their_size(tmp_path):
    out = tmp_path / "counts.json"
    assert load_script("measure_training_throughput").main(["--parts", "flops,memory", "--json", str(out)]) == 0
    counts = json.loads(out.read_text())
    flops, memory = counts["flops"], counts["memory"]
    order = ["small_16k", "small_44k", "medium_44k", "large_44k_v2"]
    assert [flops[v]["latent_shape"] for v in order] == [[250, 20]] + [[345, 40]] * 3
    forward = [flops[v]["forward_flops"] for v in order]
    saved = [memory[v]["saved_activation_bytes_per_row_fp32"] for v in order]
    assert forward == sorted(forward) and saved == sorted(saved)
    # a forward pass costs about 2 operations per parameter per latent-length token and more
    for v in order:
        per_token = flops[v]["forward_flops"] / (flops[v]["params"] * flops[v]["latent_shape"][0])
        assert 1.0 < per_token < 4.0, (v, per_token)
    # v2 differs only in its time embedding
    assert abs(flops["large_44k"]["forward_flops"] / flops["large_44k_v2"]["forward_flops"] - 1) < 1e-4
