"""The package imports without side effects, and the command line answers."""

from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import subprocess
import sys

import torch

import mfmjt_cli
import mfmjt_core


def _torch_flags():
    return (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.benchmark,
        torch.get_default_dtype(),
        torch.is_grad_enabled(),
    )


def test_importing_every_module_has_no_side_effects():
    env, flags = dict(os.environ), _torch_flags()
    handlers = list(logging.getLogger().handlers)
    names = [m.name for package in (mfmjt_core, mfmjt_cli)
             for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    assert "mfmjt_core.flows.meanflow" in names and "mfmjt_core.network.mmdit" in names
    assert "mfmjt_cli.commands.serve" in names
    for name in names:
        if name.endswith("__main__"):
            continue
        importlib.import_module(name)
    assert dict(os.environ) == env
    assert _torch_flags() == flags
    assert logging.getLogger().handlers == handlers


def _mfmjt(*args, package="mfmjt_cli"):
    return subprocess.run([sys.executable, "-m", package, *args], capture_output=True, text=True, timeout=120)


def test_cli_version_and_info():
    out = _mfmjt("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"mfmjt {mfmjt_core.__version__}"
    info = _mfmjt("info", "--json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["mfmjt"] == mfmjt_core.__version__
    assert data["devices"][0]["name"] == "cpu"
    assert "small_16k" in data["network_variants"]


def test_cli_usage_errors_exit_2():
    assert _mfmjt().returncode == 2
    assert _mfmjt("no-such-command").returncode == 2


def test_the_library_forwards_command_lines_stored_by_earlier_installs():
    """Earlier `mfmjt install-resolve` runs wrote `python -m mfmjt_core resolve-bridge` into the
    Resolve scripts; `python -m mfmjt_core` still runs the command line, exit status included."""
    out = _mfmjt("--version", package="mfmjt_core")
    assert out.returncode == 0 and out.stdout.strip() == f"mfmjt {mfmjt_core.__version__}"
    missing = _mfmjt("resolve-bridge", "/no/such/range.mp4", package="mfmjt_core")
    assert missing.returncode == 3 and missing.stdout.startswith("error\tbad_media\t"), missing
