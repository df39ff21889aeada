"""When the daemon is missing, silent, remote or must be started: a sentence in the panel,
never a traceback, and the scene left as it was."""

from __future__ import annotations

import socket
from types import SimpleNamespace

from blender_testing import add_movie, free_port, import_bpy, sound_strips, span, strips, wait_for_jobs

bpy = import_bpy()


class _Layout:
    """Stands in for a UI layout: records the labels and operator texts the panel draws."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __getattr__(self, name):
        def call(*args, **kwargs):
            if "text" in kwargs:
                self.texts.append(kwargs["text"])
            return _Layout(self.texts)

        return call


def _panel_texts(extension) -> list[str]:
    texts: list[str] = []
    extension.panels.SEQUENCER_PT_mfmjt.draw(SimpleNamespace(layout=_Layout(texts)), bpy.context)
    return texts


def _render_state(scene) -> tuple:
    r = scene.render
    return r.filepath, r.resolution_x, r.resolution_y, r.image_settings.file_format, scene.frame_start, scene.frame_end


def test_no_daemon_running_says_so_in_the_panel(extension, prefs, scene, videos):
    prefs.address = f"tcp://127.0.0.1:{free_port()}"
    add_movie(scene, videos["24"], channel=1, frame_start=1, select=True)
    before = _render_state(scene)
    assert bpy.ops.sequencer.mfmjt_generate_selection() == {"CANCELLED"}
    expected = (f"No MF-MJT daemon is running at {prefs.address}. Start one with `mfmjt serve`, "
                "or set a start command in the add-on preferences.")
    assert scene.mfmjt.status == expected
    assert expected in " ".join(_panel_texts(extension))  # wrapped into lines, read whole
    assert not extension.jobs.pending_for(scene) and len(strips(scene)) == 1
    assert _render_state(scene) == before
    scene.mfmjt.prompt = "rain"
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"CANCELLED"}
    assert scene.mfmjt.status == expected


def test_check_daemon_when_none_runs(extension, prefs, scene):
    prefs.address = f"tcp://127.0.0.1:{free_port()}"
    assert bpy.ops.sequencer.mfmjt_check_daemon() == {"FINISHED"}
    extension.jobs.tick()
    assert scene.mfmjt.daemon_status == f"Not running at {prefs.address}"


def test_silent_daemon_times_out_with_a_message(extension, prefs, scene):
    # Something listens on the port but never speaks ZeroMQ: only the client's timeout can tell.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        prefs.address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        prefs.timeout_s = 0.5
        scene.mfmjt.prompt = "wind"
        assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
        wait_for_jobs(extension, scene, timeout=15)
    assert scene.mfmjt.status == (f"Failed: the daemon stopped answering (no answer from {prefs.address} "
                                  "after 3 tries of 0.5 s; is `mfmjt serve` running?)")
    assert sound_strips(scene) == []
    assert scene.mfmjt.status in " ".join(_panel_texts(extension))


def test_remote_daemon_needs_online_access_and_keys(extension, prefs, scene):
    prefs.address = "tcp://192.0.2.7:5557"  # TEST-NET: never contacted
    scene.mfmjt.prompt = "wind"
    assert not bpy.app.online_access  # headless bpy runs offline
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"CANCELLED"}
    assert scene.mfmjt.status.startswith("tcp://192.0.2.7:5557 is another machine and Blender's online access is off")


def test_malformed_address_is_reported(extension, prefs, scene):
    prefs.address = "tcp://127.0.0.1:notaport"
    scene.mfmjt.prompt = "wind"
    assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"CANCELLED"}
    assert scene.mfmjt.status.startswith("Cannot connect to 'tcp://127.0.0.1:notaport'")


def test_start_command_launches_a_daemon(extension, prefs, scene, daemon_command_line):
    port = free_port()
    prefs.address = f"tcp://127.0.0.1:{port}"
    prefs.start_command = daemon_command_line(port)
    prefs.timeout_s = 30.0  # the model loads for some seconds; the request waits in ZeroMQ's queue
    scene.mfmjt.prompt, scene.mfmjt.duration, scene.frame_current = "bell", 0.5, 5
    try:
        assert bpy.ops.sequencer.mfmjt_generate_prompt() == {"FINISHED"}
        assert scene.mfmjt.status.startswith("Starting the daemon; sent frames 5-16")
        started = extension.daemon_link.started_processes()
        assert len(started) == 1 and started[0].poll() is None
        wait_for_jobs(extension, scene, timeout=120)
        (take,) = sound_strips(scene)
        assert (span(take)[0], take.channel) == (5, 1)
        # A second press reuses the running daemon instead of starting another.
        assert extension.daemon_link.start_daemon(prefs.start_command) is started[0]
    finally:
        for process in extension.daemon_link.started_processes():
            process.terminate()
            process.wait(30)
