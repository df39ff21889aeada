"""`python -m mfmjt_cli ...`: the same as the `mfmjt` console script."""

import sys

from mfmjt_cli.entry import main

sys.exit(main())
