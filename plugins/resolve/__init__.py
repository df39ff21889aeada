"""MF-MJT for DaVinci Resolve (imports as `mfmjt_resolve` where installed).

`mfmjt install-resolve` (`installer`) copies this package's Resolve-side modules, the thin daemon
client and two menu scripts:
`MF-MJT Sound.py` (Workspace > Scripts > Edit, Resolve Studio) runs `sound_for_range.main`;
`MF-MJT Sound (Lua).lua` does the same Resolve work in Lua for the free edition (where Python
scripts are no longer listed since 21.1) and calls `mfmjt resolve-bridge` (`bridge`, run in
mfmjt's own Python) for the daemon side; `external_scripting` runs the self-test from outside.
Standard library only (plus pyzmq for the direct transport); importing it imports nothing else.
"""
