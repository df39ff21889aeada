import sys

from mfmjt_core.cli import main

sys.exit(main())
