"""Max abs error of the product code against every reference golden, as a Markdown table.

    MFMJT_REFERENCE=../shared/reference OMP_NUM_THREADS=1 python scripts/golden_errors.py

The goldens (`$MFMJT_REFERENCE/golden/*.pt`, made by MMAudio's reference code in fp32 on CPU)
go through the same calls as the tests in tests/codec, tests/core and tests/encoders; the
tolerances there are set from these numbers (at most about 3x, never looser than 1e-5 unless a
measurement requires it). Run it after a change to any of those modules or to torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("MFMJT_REFERENCE", ROOT.parent / "shared" / "reference"))


def load(name: str) -> dict:
    return torch.load(REFERENCE / "golden" / name, weights_only=True)


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a.double() - b.double()).abs().max())


def legacy(state_dict: dict) -> dict:
    """parametrizations.weight.original0/1 -> weight_g / weight_v names."""
    return {k.replace(".parametrizations.weight.original0", ".weight_g")
            .replace(".parametrizations.weight.original1", ".weight_v"): v for k, v in state_dict.items()}


def mel_rows():
    from mfmjt_core.codec.mel import MEL_16K, MEL_44K, MelFrontend

    cases = load("mel_frontend.pt")["cases"]
    for case, cfg in (("16k", MEL_16K), ("44k", MEL_44K)):
        yield f"mel_frontend {case}: mel", err(MelFrontend(cfg)(cases[case]["waveform"]), cases[case]["mel"])


def vae_rows():
    from mfmjt_core.codec.vae import MelVAE, VAEConfig

    for name in ("vae_tiny_80.pt", "vae_tiny_128.pt"):
        g = load(name)
        for folded in (True, False):
            cfg = VAEConfig(**g["config"])
            if folded:
                vae = MelVAE.from_state_dict(g["state_dict_as_saved"], cfg)
            else:
                vae = MelVAE(cfg)
                vae.load_state_dict(g["state_dict_as_saved"], strict=True)
            with torch.no_grad():
                mean, std = vae.encode(g["input_mel"])
                decoded = vae.decode(g["latent_mean"])
            form = "folded" if folded else "weight norm"
            yield f"{name} ({form}): latent mean", err(mean, g["latent_mean"])
            yield f"{name} ({form}): latent std", err(std, g["latent_std"])
            yield f"{name} ({form}): decoded mel", err(decoded, g["decoded_mel"])


def bigvgan_rows():
    from mfmjt_core.codec.bigvgan import BigVGANConfig, BigVGANGenerator

    for name in ("bigvgan_v1_tiny.pt", "bigvgan_v2_tiny.pt"):
        g = load(name)
        cfg = BigVGANConfig.from_dict(g["config"])
        stored = g["generator_state_dict_as_saved"]
        for form, sd in (("parametrizations", stored), ("weight_g/weight_v", legacy(stored))):
            with torch.inference_mode():
                out = BigVGANGenerator.from_state_dict({"generator": sd}, cfg)(g["input_mel"])
            yield f"{name} ({form}): waveform", err(out, g["output_waveform"])


def mmdit_rows():
    from mfmjt_core.network import OWN_PREFIXES, build_network

    for name in ("mmdit_tiny_v1.pt", "mmdit_tiny_v2.pt"):
        g = load(name)
        net = build_network("tiny_test", v2=g["config"]["v2"])
        missing, unexpected = net.load_state_dict(g["state_dict"], strict=False)
        assert not unexpected and all(k.startswith(OWN_PREFIXES) for k in missing)
        x = g["inputs"]
        with torch.no_grad():
            flow = net.eval()(x["latent"], x["t"], x["clip_f"], x["sync_f"], x["text_f"])
            empty = net.empty_conditions(2, x["clip_f"].shape[1], x["sync_f"].shape[1])
            flow_empty = net(x["latent"], x["t"], **empty)
            normalised = net.normalize(x["latent"])
        yield f"{name}: flow", err(flow, g["output_flow"])
        yield f"{name}: flow, empty conditions", err(flow_empty, g["output_flow_empty_conditions"])
        yield f"{name}: normalised latent", err(normalised, g["normalize_latent_output"])


def encoder_rows():
    """From the raw frames through MMAudio's transform (mmaudio_resize, which the media layer
    applies to each decoded frame) and the encoder set (tests/encoders/test_mmaudio_goldens.py
    does the same from a video file and checks the frames are bit-identical)."""
    from open_clip.model import CLIP

    from mfmjt_core.encoders import ClipEncoder, MMAudioEncoders, SynchformerConfig, SynchformerVisual
    from mfmjt_core.media.mmaudio_transform import mmaudio_resize

    sg = load("synchformer_tiny.pt")
    vit = sg["config"]["VIT"]
    sync = SynchformerVisual.create(SynchformerConfig(dim=vit["EMBED_DIM"], heads=vit["NUM_HEADS"],
                                                      depth=vit["DEPTH"]))
    sync.load_published(sg["state_dict"])
    clip_cfg = dict(embed_dim=16, quick_gelu=True,
                    vision_cfg=dict(image_size=384, layers=1, width=32, head_width=16, patch_size=14),
                    text_cfg=dict(context_length=77, vocab_size=49408, width=24, heads=2, layers=1))
    torch.manual_seed(0)
    enc = MMAudioEncoders(ClipEncoder.from_state_dict(CLIP(**clip_cfg).state_dict(), clip_cfg, image_size=384), sync)

    raw = sg["inputs"]["raw_frames_uint8"].numpy()
    frames = np.stack([[mmaudio_resize(f, short_side=224, center_crop=224) for f in clip] for clip in raw])
    yield "synchformer_tiny.pt: sync features", err(enc.encode_sync(frames), sg["output_features"])

    cg = load("clip_preprocess.pt")
    seen = []
    enc.clip.model.visual.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    up = cg["inputs"]["raw_frames_upscale"][0].numpy()
    enc.encode_clip(np.stack([[mmaudio_resize(f, size=(384, 384)) for f in up]]))
    yield "clip_preprocess.pt: CLIP input (upscale rows)", err(seen[-1][:, :, :96], cg["clip_model_input_rows"])
    down = cg["inputs"]["raw_frames_downscale"][0].numpy()
    enc.encode_clip(np.stack([[mmaudio_resize(f, size=(384, 384)) for f in down]]))
    mean, std = (torch.tensor(cg["config"][k]).view(3, 1, 1) for k in ("mean", "std"))
    expected = cg["clip_frames_uint8_downscale"][0].float().mul_(1 / 255).sub_(mean).div_(std)
    yield "clip_preprocess.pt: CLIP input (downscale)", err(seen[-1], expected)


def main() -> int:
    torch.set_num_threads(1)
    print("| golden: output | max abs error |\n|---|---|")
    for rows in (mel_rows, vae_rows, bigvgan_rows, mmdit_rows, encoder_rows):
        for label, value in rows():
            print(f"| {label} | {value:.2e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
