"""Third-party code shipped inside the extension.

`mfmjt_client/` is copied here by build.py from the repository's `daemon/` folder (the daemon's
reference client: client.py, protocol.py, events.py, wav.py, job_state.py); it is not kept in version control.
"""
