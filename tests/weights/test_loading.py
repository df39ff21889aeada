"""Reading checkpoints safely and loading them strictly."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from mfmjt_core.errors import MissingWeightsError, WeightsError
from mfmjt_core.weights import (
    StateDictMismatchError,
    load_checkpoint,
    load_strict,
    select_prefix,
)


def small_module() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))


def sample_state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"0.weight": torch.randn(3, 4, generator=g), "0.bias": torch.randn(3, generator=g),
            "1.weight": torch.ones(3), "1.bias": torch.zeros(3)}


def test_pth_safetensors_and_nested_key(tmp_path):
    sd = sample_state()
    torch.save(sd, tmp_path / "plain.pth")
    torch.save({"generator": sd, "epoch": torch.tensor(3)}, tmp_path / "nested.pt")
    save_file(sd, tmp_path / "w.safetensors")
    for loaded in (load_checkpoint(tmp_path / "plain.pth"),
                   load_checkpoint(tmp_path / "nested.pt", key="generator"),
                   load_checkpoint(tmp_path / "w.safetensors")):
        assert loaded.keys() == sd.keys()
        assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    with pytest.raises(WeightsError, match="'missing'"):
        load_checkpoint(tmp_path / "nested.pt", key="missing")


def test_truncated_and_corrupt_files_are_weights_errors(tmp_path):
    torch.save(sample_state(), tmp_path / "ok.pth")
    data = (tmp_path / "ok.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pth").write_bytes(os.urandom(2000))
    save_file(sample_state(), tmp_path / "ok.safetensors")
    st = (tmp_path / "ok.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(st[: len(st) - 10])
    for name in ("truncated.pth", "garbage.pth", "truncated.safetensors"):
        with pytest.raises(WeightsError, match="cannot read checkpoint"):
            load_checkpoint(tmp_path / name)


class _Sneaky:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickles_that_need_code_are_refused(tmp_path, capsys):
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"w": _Sneaky()}, f, protocol=2)
    torch.save({"w": _Sneaky()}, tmp_path / "evil_zip.pth")
    for name in ("evil.pth", "evil_zip.pth"):
        with pytest.raises(WeightsError):
            load_checkpoint(tmp_path / name)
    assert "must never run" not in capsys.readouterr().out


def test_non_tensor_entries_are_refused(tmp_path):
    torch.save({"w": torch.zeros(2), "step": 5}, tmp_path / "mixed.pth")
    with pytest.raises(WeightsError, match="step"):
        load_checkpoint(tmp_path / "mixed.pth")


def test_missing_file_names_the_command(tmp_path):
    with pytest.raises(MissingWeightsError) as info:
        load_checkpoint(tmp_path / "nope" / "v1-16.pth", fetch_hint="mmaudio-small-16k")
    msg = str(info.value)
    assert "mfmjt fetch mmaudio-small-16k" in msg and str(tmp_path / "nope") in msg
    assert info.value.exit_code == 5


def test_strict_loading_lists_every_problem():
    sd = sample_state()
    sd["0.weight"] = torch.zeros(5, 4)  # mis-shaped
    del sd["1.bias"]  # missing
    sd["extra.weight"] = torch.zeros(1)  # unexpected
    module = small_module()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with pytest.raises(StateDictMismatchError) as info:
        load_strict(module, sd, what="test.pth")
    err = info.value
    assert err.missing == ["1.bias"] and err.unexpected == ["extra.weight"]
    assert err.mismatched == [("0.weight", (5, 4), (3, 4))]
    msg = str(err)
    assert "test.pth" in msg and "1.bias" in msg and "extra.weight" in msg and "(5, 4)" in msg
    assert isinstance(err, WeightsError) and err.exit_code == 6
    # nothing was half-loaded
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_strict_loading_and_ignored_prefixes():
    module = small_module()
    load_strict(module, sample_state(1))
    assert torch.equal(module[0].weight, sample_state(1)["0.weight"])
    # a module part the file predates (e.g. MeanFlow's r-embedding) is skipped both ways
    partial = {k: v for k, v in sample_state(2).items() if not k.startswith("1.")}
    partial["1.stale"] = torch.zeros(1)
    load_strict(module, partial, ignore_prefixes=("1.",))
    assert torch.equal(module[0].bias, sample_state(2)["0.bias"])
    assert torch.equal(module[1].weight, torch.ones(3))


def test_select_prefix():
    sd = {"vfeat_extractor.a": torch.zeros(1), "afeat_extractor.b": torch.zeros(1)}
    assert list(select_prefix(sd, "vfeat_extractor.")) == ["vfeat_extractor.a"]
    assert list(select_prefix(sd, "vfeat_extractor.", strip=True)) == ["a"]
