"""Add-on preferences: where the daemon is, how to start one, CURVE keys for a remote one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy
from bpy.props import FloatProperty, IntProperty, StringProperty

DEFAULT_ADDRESS = "tcp://127.0.0.1:5557"


@dataclass(frozen=True)
class DaemonConfig:
    """The preferences as plain values, so helpers never need a Blender context."""

    address: str = DEFAULT_ADDRESS
    start_command: str = ""
    server_key: str = ""
    client_key: str = ""
    timeout_s: float = 10.0
    render_height: int = 384
    sample_rate: int = 48000


class MFMJT_Preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    address: StringProperty(
        name="Daemon address", default=DEFAULT_ADDRESS,
        description="ZeroMQ endpoint of `mfmjt serve`, e.g. tcp://127.0.0.1:5557 or ipc:///tmp/mfmjt")
    start_command: StringProperty(
        name="Start command", default="",
        description="Run this when no daemon answers at a local address, e.g. `mfmjt serve` "
                    "(leave empty to start the daemon yourself)")
    server_key: StringProperty(
        name="Server key", default="", subtype="FILE_PATH",
        description="CURVE: the remote daemon's public key file (server.key) or its Z85 text")
    client_key: StringProperty(
        name="Client key", default="", subtype="FILE_PATH",
        description="CURVE: this machine's secret key file from `mfmjt keys client NAME` (.key_secret)")
    timeout_s: FloatProperty(
        name="Timeout", default=10.0, min=0.5, max=300.0, unit="TIME_ABSOLUTE",
        description="Seconds without an answer before a request is re-sent; after three tries the "
                    "daemon counts as gone")
    render_height: IntProperty(
        name="Render height", default=384, min=64, max=2160, subtype="PIXEL",
        description="Height of the clip rendered for the model (it looks at 384 px at most)")
    sample_rate: IntProperty(
        name="Sample rate", default=48000, min=8000, max=192000,
        description="Rate of the audio files written (Hz)")

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.prop(self, "address")
        layout.prop(self, "start_command")
        box = layout.box()
        box.label(text="Remote daemon (CURVE encryption)")
        box.prop(self, "server_key")
        box.prop(self, "client_key")
        row = layout.row()
        row.prop(self, "timeout_s")
        row.prop(self, "render_height")
        row.prop(self, "sample_rate")


def daemon_config(context: Any) -> DaemonConfig:
    """The preferences of this add-on as a DaemonConfig (defaults when it is not enabled through
    the preferences, e.g. when a script registers it directly)."""
    addon = context.preferences.addons.get(__package__)
    if addon is None or addon.preferences is None:
        return DaemonConfig()
    p = addon.preferences
    return DaemonConfig(address=p.address.strip() or DEFAULT_ADDRESS, start_command=p.start_command.strip(),
                        server_key=bpy.path.abspath(p.server_key) if p.server_key else "",
                        client_key=bpy.path.abspath(p.client_key) if p.client_key else "",
                        timeout_s=p.timeout_s, render_height=p.render_height, sample_rate=p.sample_rate)
