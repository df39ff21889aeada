"""Codec tests run torch single-threaded.

On the shared 2-core test machine, two intra-op threads that contend with other processes make
the many small convolutions of BigVGAN 10-60x slower (OpenMP threads waiting on each other).
The setting is restored after each test so other folders keep theirs.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_torch_thread):
    pass
