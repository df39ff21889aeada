"""Subcommands of `mfmjt`, one module each (see `mfmjt_cli.entry`)."""
