"""The `mfmjt` command line: the application on top of the library (`mfmjt_core`), the daemon
(`mfmjt_daemon`) and the editor plugins. `entry.main` parses and dispatches; each subcommand is
one module of `mfmjt_cli.commands`. Importing this package imports nothing else.
"""
