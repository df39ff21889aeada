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


def test_synth_neutral_looks_writes_the_redrawn_frames(tmp_path, capsys):
    """`--neutral-looks` writes the clip as `neutral_frames` draws it (the same audio and caption),
    and says so in the sidecar; the frames differ from the clip's own."""
    from fractions import Fraction

    from mfmjt_core.media import decode_frames
    from mfmjt_core.synth import WorldConfig
    from mfmjt_core.synth.world import neutral_frames

    args = ["synth", "--split", "val", "-n", "1", "--duration", "2", "--size", "64", "--fps", "25"]
    assert main([*args, str(tmp_path / "own")]) == 0
    assert main([*args, "--neutral-looks", str(tmp_path / "neutral")]) == 0
    assert "neutral looks" in capsys.readouterr().out
    own, neutral = (tmp_path / d / "val_10000000" for d in ("own", "neutral"))
    meta, own_meta = (json.loads(p.with_suffix(".json").read_text()) for p in (neutral, own))
    assert meta["neutral_looks"] is True
    assert "neutral_looks" not in own_meta
    assert meta["caption"] == own_meta["caption"]
    clip = make_clip(10_000_000, config=WorldConfig(duration_s=2, height=64, width=64, fps=25))
    want, own_look = neutral_frames(clip).astype(float), clip.frames.astype(float)
    got, theirs = (decode_frames(p.with_suffix(".mp4"), 0.0, 2.0, Fraction(25)).frames.astype(float)
                   for p in (neutral, own))
    assert got.shape == want.shape
    # where the two looks differ (the bodies), the written frames show the neutral one; H.264 is
    # lossy, so judged by distance, and the clip's own file shows its own look there
    bodies = abs(want - own_look).max(axis=-1) > 40
    assert bodies.sum() > 100
    assert abs(got - want)[bodies].mean() < abs(got - own_look)[bodies].mean() / 3
    assert abs(theirs - own_look)[bodies].mean() < abs(theirs - want)[bodies].mean() / 3
