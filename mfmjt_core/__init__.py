"""MF-MJT core: one-step video-to-audio and text-to-audio (MeanFlow + MMAudio's MM-DiT).

Importing this package has no side effects: no device probing, no torch flags, no downloads.
"""

__version__ = "0.1.0"
