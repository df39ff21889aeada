"""MF-MJT Sound: AI sound for the In-Out range of the current timeline (Resolve Studio).

Installed into Workspace > Scripts > Edit by `mfmjt install-resolve`, which fills in LIB_DIR:
the folder holding `mfmjt_resolve`, the thin daemon client `mfmjt_client` and `resolve.json`.
Put a marker inside the range and write the prompt in its note (or set "prompt" in resolve.json).
"""

import sys

LIB_DIR = None  # @MFMJT_LIB_DIR@ (set by the installer)

if LIB_DIR and LIB_DIR not in sys.path:
    sys.path.insert(0, LIB_DIR)

from mfmjt_resolve.sound_for_range import main

main(namespace=globals())
