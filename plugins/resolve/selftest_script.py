"""MF-MJT Self-test: check the Resolve API facts the MF-MJT scripts rely on (Resolve Studio).

Installed into Workspace > Scripts > Edit by `mfmjt install-resolve`, which fills in LIB_DIR.
Run it once; it works on a scratch timeline that it removes, and prints PASS / FAIL lines to
Workspace > Console. Send the lines back when one says FAIL (see the Resolve README).
"""

import sys

LIB_DIR = None  # @MFMJT_LIB_DIR@ (set by the installer)

if LIB_DIR and LIB_DIR not in sys.path:
    sys.path.insert(0, LIB_DIR)

from mfmjt_resolve.selftest import main

main(namespace=globals())
