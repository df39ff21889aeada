"""`python -m mfmjt_core ...` forwards to `python -m mfmjt_cli ...`.

Kept for command lines stored by earlier installs: `mfmjt install-resolve` wrote
`<python> -m mfmjt_core resolve-bridge` into resolve.json and the Lua menu script, and a Blender
add-on's start command or the panel's may say `-m mfmjt_core serve`. `runpy` by name, not an
import, so the library gains no edge to the application above it.
"""

import runpy

runpy.run_module("mfmjt_cli", run_name="__main__", alter_sys=True)
