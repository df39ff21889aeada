"""MF-MJT panel (imports as `mfmjt_panel`): a standalone PySide6 window for anyone, with any
editor or none. Open or drop a video, mark In/Out, describe the sound, generate through the
daemon, audition the takes against the picture, export WAV or MP4, or drag a take out.

It imports PySide6, PyAV, numpy and the thin daemon client only, never the model library.
Importing this package imports nothing else; `mfmjt panel` or `python -m mfmjt_panel` runs it.
"""
