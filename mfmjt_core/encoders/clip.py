"""CLIP image and text features through open_clip, as MMAudio computes them.

Architecture: `apple/DFN5B-CLIP-ViT-H-14-384`, which is open_clip's `ViT-H-14-378-quickgelu`
config. Weights come from a local file (open_clip state dict, `.bin`/`.pth` or `.safetensors`)
or from a copy already in the Hugging Face hub cache; open_clip is never asked to download
(the model is built from its config with no `pretrained` tag and loaded here, strictly).

Image features: frames resized to 384 x 384 by the media layer exactly as MMAudio does
(torchvision's antialiased bicubic on uint8, `media/mmaudio_transform.py`; checked against
golden/clip_preprocess.pt), normalised with OpenAI CLIP's mean/std, `encode_image(normalize=True)`
-> 1024-d per frame. A 384 px input on a 378 px
config gives the same 27 x 27 patch grid (the stride-14 convolution ignores the last 6 pixels),
exactly as in MMAudio, which also feeds 384 px frames to this model.

Text features: MMAudio's patched `encode_text` returns all 77 token states after `ln_final`,
L2-normalised per token. The text projection is NOT applied (checked in MMAudio's
`features_utils.patch_clip`), so text_dim is the text transformer width (1024 for ViT-H-14,
which equals the embedding size only by coincidence).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mfmjt_core.encoders.params import build_on_meta
from mfmjt_core.weights.loading import load_checkpoint, load_strict

CLIP_MODEL_NAME = "ViT-H-14-378-quickgelu"
CLIP_IMAGE_SIZE = 384
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
# Buffers some open_clip versions saved and later made non-persistent; safe to drop.
_STALE_KEYS = ("attn_mask", "text.position_ids")


def clip_config(name: str = CLIP_MODEL_NAME) -> dict:
    """open_clip's model config (embed_dim, vision_cfg, text_cfg, quick_gelu) by name."""
    import open_clip

    cfg = open_clip.get_model_config(name)
    if cfg is None:
        raise ValueError(f"open_clip has no model config {name!r}")
    return cfg


def build_clip(cfg: Mapping, device: torch.device | str | None = None) -> nn.Module:
    """An open_clip CLIP from a config dict; on `device` ("meta" builds without storage).

    Built on the meta device and then given empty storage, so no time goes into a random
    initialisation that the checkpoint overwrites: load weights before use. The only
    non-persistent buffer, the causal text mask, is rebuilt here.
    """
    from open_clip.model import CLIP

    model = build_on_meta(lambda: CLIP(**dict(cfg)))
    if str(device) == "meta":
        return model
    persistent = set(model.state_dict())
    transient = [n for n, _ in model.named_buffers() if n not in persistent]
    if transient != ["attn_mask"]:  # an open_clip with other computed buffers: build for real
        with torch.random.fork_rng(devices=[]):
            return CLIP(**dict(cfg)).to(device or "cpu")
    model = model.to_empty(device=device or "cpu")
    n = model.attn_mask.shape[0]
    model.attn_mask = torch.full((n, n), float("-inf"), device=model.attn_mask.device).triu_(1)
    return model


def prepare_clip_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Undo wrappers in a published open_clip state dict (DataParallel prefix, stale buffers)."""
    sd = dict(state_dict)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return {k: v for k, v in sd.items() if k not in _STALE_KEYS}


class ClipEncoder(nn.Module):
    """Per-frame image features and per-token text features of an open_clip CLIP."""

    def __init__(
        self, model: nn.Module, tokenizer_name: str = CLIP_MODEL_NAME,
        image_size: int = CLIP_IMAGE_SIZE,
    ):
        super().__init__()
        self.model = model.eval().requires_grad_(False)  # frozen in this project
        self.tokenizer_name = tokenizer_name
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(OPENAI_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(OPENAI_STD).view(3, 1, 1), persistent=False)
        self._tokenizer = None

    @classmethod
    def from_state_dict(
        cls,
        state_dict: Mapping[str, torch.Tensor],
        cfg: Mapping | None = None,
        *,
        device: torch.device | str | None = None,
        image_size: int = CLIP_IMAGE_SIZE,
        what: str = "CLIP state dict",
    ) -> ClipEncoder:
        """Build the architecture of `cfg` (default ViT-H-14-378-quickgelu) and load strictly."""
        model = build_clip(cfg if cfg is not None else clip_config(), device)
        load_strict(model, prepare_clip_state_dict(state_dict), what=what)
        return cls(model, image_size=image_size).to(device or "cpu")

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        cfg: Mapping | None = None,
        *,
        device: torch.device | str | None = None,
        image_size: int = CLIP_IMAGE_SIZE,
        fetch_hint: str | None = None,
    ) -> ClipEncoder:
        """Load an open_clip checkpoint file (weights-only pickle or safetensors)."""
        sd = load_checkpoint(path, fetch_hint=fetch_hint)
        return cls.from_state_dict(sd, cfg, device=device, image_size=image_size, what=str(path))

    @property
    def image_dim(self) -> int:
        return int(self.model.visual.output_dim)

    @property
    def text_dim(self) -> int:
        return int(self.model.ln_final.normalized_shape[0])

    @property
    def context_length(self) -> int:
        return int(self.model.context_length)

    def tokenize(self, prompts: Sequence[str]) -> torch.Tensor:
        """(B, 77) token ids; open_clip's bundled BPE vocabulary, no network."""
        if self._tokenizer is None:
            import open_clip

            self._tokenizer = open_clip.get_tokenizer(self.tokenizer_name)
        return self._tokenizer(list(prompts))

    def encode_images(self, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> (N, image_dim), unit length.

        Frames of another size are resized here in float (no rounding to uint8 levels), close
        to but not bit-equal with MMAudio's transform; the pipeline's frames arrive at size.
        """
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size,) * 2, mode="bicubic",
                                   align_corners=False, antialias=True).clamp_(0, 1)
        dtype = self.model.visual.conv1.weight.dtype
        out = []
        for i in range(0, images.shape[0], batch_size):
            x = ((images[i : i + batch_size] - self.mean) / self.std).to(dtype)
            out.append(self.model.encode_image(x, normalize=True))
        return torch.cat(out) if out else images.new_zeros(0, self.image_dim)

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, 77) ids -> (B, 77, text_dim): every token's state after ln_final, unit length."""
        m = self.model
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens.to(m.token_embedding.weight.device)).to(cast)
        x = x + m.positional_embedding.to(cast)
        batch_first = getattr(m.transformer, "batch_first", True)  # older open_clip: (L, N, D)
        x = m.transformer(x if batch_first else x.transpose(0, 1), attn_mask=m.attn_mask)
        x = x if batch_first else x.transpose(0, 1)
        return F.normalize(m.ln_final(x), dim=-1)

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        return self.encode_tokens(self.tokenize(prompts))
