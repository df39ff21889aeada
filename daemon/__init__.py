"""MF-MJT daemon (imports as mfmjt_daemon)."""
