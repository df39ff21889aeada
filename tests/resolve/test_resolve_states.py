"""The Resolve script (fake Resolve, real daemon, both transports) tells the same truth as the
other editors: each phase in the console, "the daemon shut down" for a SIGTERM, "the daemon
stopped answering" within 5 s of a SIGKILL."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from daemon_process import ServeProcess
from fake_resolve import Resolve, timeline_23976

SLOW_STEPS = 400  # a 2 s range sampled this many times runs for many seconds


@pytest.fixture
def own_daemon(tmp_path):
    daemon = ServeProcess(tmp_path).start()
    yield daemon
    if daemon.proc.poll() is None:
        daemon.proc.kill()
        daemon.proc.wait(10)


def _settings(installed, **overrides):
    from mfmjt_resolve.sound_for_range import load_settings

    settings = load_settings(installed["lib"] / "resolve.json")
    return settings.__class__(**{**settings.__dict__, **overrides})


def _run_and_hit(installed, daemon, transport, hit):
    """Run the script on a marked range; once it logs "sampling", `hit(daemon)`. Returns
    (the error the script raised, the console lines, seconds from the hit to the error)."""
    from mfmjt_resolve.resolve_compat import ResolveScriptError
    from mfmjt_resolve.sound_for_range import run

    timeline = timeline_23976()
    timeline.SetMarkInOut(48, 95)
    hit_at = []

    def log(line):
        lines.append(line)
        if "sampling" in line and not hit_at:
            hit_at.append(time.monotonic())
            threading.Thread(target=hit, args=(daemon,)).start()

    lines: list[str] = []
    settings = _settings(installed, address=daemon.address, transport=transport, steps=SLOW_STEPS, prompt="rain")
    with pytest.raises(ResolveScriptError) as raised:
        run(Resolve(timeline), settings, log=log, sleep=lambda s: None)
    assert hit_at, lines
    assert timeline.GetItemListInTrack("audio", 1) == []  # nothing placed
    return str(raised.value), lines, time.monotonic() - hit_at[0]


def test_direct_transport_tells_a_shut_down_daemon(installed, own_daemon):
    error, lines, _ = _run_and_hit(installed, own_daemon, "direct", lambda d: d.stop(signal.SIGTERM))
    assert error == "failed: the daemon shut down (the daemon is shutting down; submit again later)"
    assert any(line.startswith("MF-MJT: sampling ") for line in lines), lines


def test_direct_transport_notices_a_killed_daemon_within_five_seconds(installed, own_daemon):
    error, _, taken = _run_and_hit(installed, own_daemon, "direct", lambda d: d.proc.kill())
    assert error == "failed: the daemon stopped answering (nothing heard for 4 s)"
    assert taken < 5.5  # the kill itself runs on a thread just after the hit


def test_bridge_transport_tells_a_shut_down_daemon(installed, own_daemon):
    error, lines, _ = _run_and_hit(installed, own_daemon, "bridge", lambda d: d.stop(signal.SIGTERM))
    assert error == "failed: the daemon shut down (the daemon is shutting down; submit again later)"
    assert any(line.startswith("MF-MJT: sampling ") for line in lines), lines


STATE_BRIDGE = '''
print("progress\\t0.300\\tsampling 30 %, about 2 s left")
print("error\\tshutting_down\\tfailed: the daemon shut down (the daemon is shutting down; submit again later)")
raise SystemExit(5)
'''


def test_lua_script_shows_the_bridges_state_line_whole(tmp_path, lua):
    import sys
    from pathlib import Path

    from mfmjt_resolve.installer import shell_line

    bridge = tmp_path / "bridge.py"
    bridge.write_text(STATE_BRIDGE, encoding="utf-8")
    template = Path(__file__).resolve().parents[2] / "plugins" / "resolve" / "entry_script.lua"
    script = tmp_path / "script.lua"
    script.write_text(template.read_text(encoding="utf-8")
                      .replace("@MFMJT_BRIDGE_COMMAND@", shell_line([sys.executable, str(bridge)]))
                      .replace("@MFMJT_SETTINGS_FILE@", str(tmp_path / "resolve.json"))
                      .replace("@MFMJT_RENDER_DIR@", str(tmp_path)), encoding="utf-8")
    timeline = timeline_23976()
    timeline.SetMarkInOut(48, 95)
    resolve = Resolve(timeline)
    resolve.project.LoadRenderPreset("H.264 Master")
    outcome = lua.run_script(script, resolve, [])
    assert outcome.get("error") == "failed: the daemon shut down (the daemon is shutting down; submit again later)"
