"""A take that misses the loudness asked for says so and why, from `generate` and the client's
shared note; a take at its target prints none."""

from __future__ import annotations

import pytest
from mfmjt_daemon.events import loudness_note

from mfmjt_cli.entry import main


def test_the_note_says_why_a_take_missed_its_loudness():
    assert loudness_note({"loudness_lufs": -23.4}, -23.0) is None  # within 1 LU
    assert loudness_note({"loudness_lufs": -21.0}, None) is None  # none asked
    assert loudness_note({"loudness_lufs": -21.0}, -5.0) == (
        "it is at -21.0 LUFS, not the -5 LUFS asked: its peaks reach the true-peak ceiling first")
    assert "cannot be measured" in loudness_note({"loudness_lufs": None}, -23.0)


@pytest.mark.parametrize("target, noted", [(-5, True), (-30, False)])
def test_generate_notes_a_missed_loudness_on_stderr(target, noted, tmp_path, capsys):
    take = tmp_path / "t.wav"
    assert main(["generate", "-d", "2", "--seed", "3", "--model", "tiny-random", "--loudness", str(target),
                 "-o", str(take)]) == 0
    captured = capsys.readouterr()
    loud = float(captured.out.split("\t")[2].split()[0])  # "-21.0 LUFS, -1.0 dBTP"
    notes = [line for line in captured.err.splitlines() if line.startswith("note: t.wav:")]
    assert bool(notes) == noted == (abs(loud - target) > 1), (loud, captured.err)
    if noted:
        assert f"it is at {loud:.1f} LUFS, not the {target} LUFS asked" in notes[0]
