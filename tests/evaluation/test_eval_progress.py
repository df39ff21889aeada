"""The progress line: redrawn with an ETA on a terminal, quiet in pipes except finished steps."""

from __future__ import annotations

import io

from mfmjt_core.evaluation.run_progress import EtaProgress


def test_terminal_line_has_eta_and_notes_clear_it():
    stream = io.StringIO()
    p = EtaProgress(10, stream, enabled=True)
    assert p.eta_s() is None
    p.advance(5, "mf1-off-video 16/32")
    assert p.eta_s() is not None and p.eta_s() >= 0
    p.note("mf1-off-video done")
    p.close()
    text = stream.getvalue()
    assert "\r[############............]  50.0% mf1-off-video 16/32" in text and "ETA" in text
    assert "\x1b[K" in text and "mf1-off-video done\n" in text


def test_pipe_gets_only_finished_steps():
    stream = io.StringIO()
    p = EtaProgress(4, stream, enabled=False)
    p.advance(4, "x")
    p.note("done")
    p.close()
    assert stream.getvalue() == "done\n"
