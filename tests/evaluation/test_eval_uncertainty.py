"""Bootstrap intervals over clips (`mfmjt_core.evaluation.uncertainty`) and `mfmjt eval compare`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfmjt_cli.entry import main
from mfmjt_core.evaluation.metrics import OnsetScore
from mfmjt_core.evaluation.uncertainty import bootstrap, paired, pooled


def _rows(n, seed=0, hit=0.8, start=100):
    """Per-clip rows shaped like `results.json`'s, with about `hit` of onsets and impacts right."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        ref, det = int(rng.integers(3, 10)), int(rng.integers(3, 10))
        impacts = int(rng.integers(0, 5))
        rows.append({"seed": start + i, "reference_onsets": ref, "detected_onsets": det,
                     "matched": int(rng.binomial(min(ref, det), hit)), "impacts": impacts,
                     "material_correct": int(rng.binomial(impacts, hit))})
    return rows


def test_pooled_scores_are_the_evaluations_own():
    rows = _rows(12)
    total = OnsetScore(sum(r["reference_onsets"] for r in rows), sum(r["detected_onsets"] for r in rows),
                       sum(r["matched"] for r in rows))
    assert pooled(rows, "onset F1") == pytest.approx(total.f1)
    assert pooled(rows, "material") == pytest.approx(
        sum(r["material_correct"] for r in rows) / sum(r["impacts"] for r in rows))


def test_interval_holds_the_score_and_narrows_with_more_clips():
    few = bootstrap(_rows(16), "onset F1", np.random.default_rng(0))
    many = bootstrap(_rows(400), "onset F1", np.random.default_rng(0))
    for iv in (few, many):
        assert iv.low <= iv.value <= iv.high and iv.level == 0.95
    assert (many.high - many.low) < 0.5 * (few.high - few.low)


def test_same_generator_seed_same_interval():
    rows = _rows(20)
    first, again = (bootstrap(rows, "material", np.random.default_rng(3)) for _ in range(2))
    assert first == again


def test_a_run_against_itself_is_exactly_level():
    rows = _rows(20)
    p = paired(rows, rows, "onset F1", np.random.default_rng(0))
    assert p.difference.low == p.difference.high == 0.0
    assert p.ratio.low == pytest.approx(1.0) and p.ratio.high == pytest.approx(1.0) and p.a_above_b == 0.0


def test_paired_sees_a_margin_that_single_intervals_hide():
    """Run a finds one more onset than run b on every clip: their own intervals overlap, the paired
    difference stays above zero."""
    b = _rows(32, hit=0.7)
    a = [dict(r, matched=min(r["matched"] + 1, r["reference_onsets"], r["detected_onsets"])) for r in b]
    p = paired(a, b, "onset F1", np.random.default_rng(0))
    assert p.a.low < p.b.high  # alone, the two overlap
    assert p.difference.low > 0 and p.ratio.low > 1 and p.a_above_b > 0.99


def test_paired_matches_clips_by_seed_and_refuses_disjoint_runs():
    rows = _rows(10)
    shuffled = list(reversed(rows))
    p = paired(rows, shuffled, "onset F1", np.random.default_rng(0))
    assert p.difference.low == p.difference.high == 0.0 and p.clips == 10
    with pytest.raises(ValueError, match="share 0 clip"):
        paired(rows, _rows(10, start=500), "onset F1", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown statistic"):
        pooled(rows, "Fréchet")
    with pytest.raises(ValueError, match="per-clip rows lack"):
        pooled([{"seed": 1}], "material")


def _results(path, runs, classifier_clips=300):
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.json").write_text(json.dumps({
        "material_classifier": {"clips": classifier_clips, "split": "train"},
        "runs": [{"name": name, "per_clip": rows} for name, rows in runs.items()]}))
    return path


def test_compare_command_prints_the_paired_table(tmp_path, capsys):
    b = _rows(32, hit=0.7)
    a = [dict(r, matched=min(r["matched"] + 1, r["reference_onsets"], r["detected_onsets"])) for r in b]
    one = _results(tmp_path / "one", {"mf1-std-video": a, "mf1-off-video": b})
    assert main(["eval", "compare", f"{one}:mf1-std-video", f"{one / 'results.json'}:mf1-off-video"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("| onset F1"))
    assert f"{pooled(a, 'onset F1'):.3f} [" in line and f"{pooled(b, 'onset F1'):.3f} [" in line
    assert "| material |" in out and "different material classifiers" not in out

    other = _results(tmp_path / "other", {"fm25-plain-video": b[:20]}, classifier_clips=600)
    assert main(["eval", "compare", f"{one}:mf1-std-video", f"{other}:fm25-plain-video"]) == 0
    out = capsys.readouterr().out
    assert "20 clips" in out and "compared on the 20 clips" in out and "different material classifiers" in out


@pytest.mark.parametrize("spec, message", [
    ("{one}", "give RESULTS:RUN"),
    ("{one}:mf4-off-video", "has no run 'mf4-off-video'; it has: mf1-off-video"),
    ("{missing}:mf1-off-video", "no results.json"),
    ("{odd}/list.json:x", "list.json is not a results.json of `mfmjt eval synth` (not a JSON object)"),
    ("{odd}/no-runs.json:x", "no-runs.json is not a results.json of `mfmjt eval synth` (no list of named runs)"),
    ("{odd}/runs-by-name.json:x", "(no list of named runs)"),
    ("{odd}/flat.json:x", "run 'x' has no per-clip scores"),
    ("{odd}/clip.mp4:x", "clip.mp4 is not a results.json of `mfmjt eval synth` ('utf-8' codec"),
])
def test_compare_refuses_what_it_cannot_compare(tmp_path, capsys, spec, message):
    one = _results(tmp_path / "one", {"mf1-off-video": _rows(8)})
    odd = tmp_path / "odd"  # files a user may point at by mistake
    odd.mkdir()
    (odd / "list.json").write_text("[1, 2]")
    (odd / "no-runs.json").write_text(json.dumps({"clips": 3}))  # e.g. `mfmjt eval clips`' results
    (odd / "runs-by-name.json").write_text(json.dumps({"runs": {"x": {}}}))
    (odd / "flat.json").write_text(json.dumps({"runs": [{"name": "x", "per_clip": [1, 2]}]}))
    (odd / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42\xa9\xff")
    bad = spec.format(one=one, missing=tmp_path / "missing", odd=odd)
    assert main(["eval", "compare", bad, f"{one}:mf1-off-video"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
