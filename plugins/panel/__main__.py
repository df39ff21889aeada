"""`python -m mfmjt_panel [VIDEO] [--address ...]`."""

import sys

from .app import main

sys.exit(main())
