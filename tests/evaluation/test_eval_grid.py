"""The comparison grid: presets, globs, and what happens without a baseline."""

from __future__ import annotations

import pytest

from mfmjt_core.evaluation.grid import GridError, RunConfig, full_grid, preset, select


def test_presets():
    assert len(full_grid()) == 48
    default = preset("default")
    assert len(default) == 32
    names = {c.name for c in default}
    assert {"mf1-off-video", "mf1-zero_star-text", "fm25-std-video", "mf4-zero_star-both"} <= names
    assert "mf1-plain-text" not in names  # rescale modes are compared on video-to-audio only
    assert [c.name for c in preset("quick")] == [
        "mf1-off-video", "mf1-zero_star-video", "mf4-off-video", "mf4-zero_star-video",
        "fm1-off-video", "fm1-zero_star-video", "fm25-off-video", "fm25-zero_star-video"]


def test_globs_order_and_baseline():
    runs = select(["fm25-*-text", "mf1-off-video", "mf1-off-video"])
    expected = ["mf1-off-video"] + [f"fm25-{g}-text" for g in ("off", "plain", "zero_star", "std")]
    assert [r.name for r in runs] == expected
    assert [r.name for r in select(["quick"], with_baseline=False)] == [
        "mf1-off-video", "mf1-zero_star-video", "mf4-off-video", "mf4-zero_star-video"]
    with pytest.raises(GridError):
        select(["mf2-*"])
    with pytest.raises(GridError):
        select(["fm1-*"], with_baseline=False)


def test_labels():
    c = RunConfig("fm", 25, "off", "text")
    assert c.name == "fm25-off-text" and c.rescale == "none"
    assert c.label == "flow matching, 25 steps, no guidance"
    assert RunConfig("mf", 1, "std", "video").label == "MeanFlow, 1 step, guidance std"
