"""`mfmjt synth` writes clips of a split to a folder."""

from __future__ import annotations

import json

from mfmjt_cli.entry import main
from mfmjt_core.synth import make_clip


def test_synth_command_writes_clip_files(tmp_path, capsys):
    code = main(["synth", str(tmp_path), "--split", "val", "-n", "1", "--duration", "2",
                 "--size", "64", "--fps", "25"])
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["val_10000000.json", "val_10000000.mp4", "val_10000000.wav"]
    meta = json.loads((tmp_path / "val_10000000.json").read_text())
    assert meta["fps"] == "25/1" and meta["n_frames"] == 50 and meta["n_samples"] == 32_000
    assert meta["seed"] == 10_000_000
    assert "val_10000000.mp4" in capsys.readouterr().out


def test_material_choice_is_respected():
    from mfmjt_core.synth import WorldConfig

    config = WorldConfig(materials=("glass",))
    for seed in range(5):
        clip = make_clip(seed, config=config, with_frames=False)
        assert {o.material for o in clip.objects if o.material} <= {"glass"}
