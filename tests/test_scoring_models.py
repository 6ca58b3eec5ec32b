"""The paper's judges' loaders on tiny random-weight models built here: open_clip CLIP + LAION head, and
ViCLIP in the released checkpoint layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.scoring.aesthetic import LaionAesthetic, load_head
from engine.scoring.base import ScoringError
from engine.scoring.build import EvalModels, build_judges
from engine.scoring.viclip import Attention, ViCLIP, ViCLIPConfig, ViCLIPScorer, load_viclip

TINY_VICLIP = ViCLIPConfig(image_size=28, patch_size=14, vision_width=32, vision_layers=2, vision_heads=2,
                           num_frames=8, embed_dim=16, context_length=32, vocab_size=49408, text_width=32,
                           text_layers=2, text_heads=2)
TINY_CLIP = {"embed_dim": 16, "vision_cfg": {"image_size": 28, "layers": 1, "width": 32, "patch_size": 14, "head_width": 16},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def _video(seed: int, n: int = 17) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, 48, 80, 3), dtype=np.uint8)


def test_viclip_l14_has_the_released_checkpoint_layout():
    with torch.device("meta"):
        sd = ViCLIP().state_dict()
    expected = {
        "vision_encoder.conv1.weight": (1024, 3, 1, 14, 14),
        "vision_encoder.class_embedding": (1024,),
        "vision_encoder.positional_embedding": (257, 1024),
        "vision_encoder.temporal_positional_embedding": (1, 8, 1024),
        "vision_encoder.ln_pre.weight": (1024,),
        "vision_encoder.transformer.resblocks.23.attn.in_proj_weight": (3072, 1024),
        "vision_encoder.transformer.resblocks.23.attn.out_proj.weight": (1024, 1024),
        "vision_encoder.transformer.resblocks.0.mlp.c_fc.weight": (4096, 1024),
        "vision_encoder.transformer.resblocks.0.mlp.c_proj.bias": (1024,),
        "vision_encoder.ln_post.bias": (1024,),
        "vision_encoder.proj": (1024, 768),
        "text_encoder.token_embedding.weight": (49408, 768),
        "text_encoder.positional_embedding": (32, 768),
        "text_encoder.transformer.resblocks.11.ln_2.weight": (768,),
        "text_encoder.transformer.resblocks.11.attn.in_proj_bias": (2304,),
        "text_encoder.ln_final.weight": (768,),
        "text_encoder.text_projection": (768, 768),
        "temp": (),
    }
    for k, shape in expected.items():
        assert tuple(sd[k].shape) == shape, k
    assert "vision_encoder.conv1.bias" not in sd and not any("mask" in k for k in sd)
    assert len([k for k in sd if k.startswith("vision_encoder.transformer.resblocks.") and k.endswith("attn.in_proj_weight")]) == 24
    assert len([k for k in sd if k.startswith("text_encoder.transformer.resblocks.") and k.endswith("attn.in_proj_weight")]) == 12


def test_attention_matches_torch_multihead_attention_with_the_same_weights():
    torch.manual_seed(0)
    ours, ref = Attention(32, 4), nn.MultiheadAttention(32, 4)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 7, 32)  # (B, N, D)
    mask = torch.full((7, 7), float("-inf")).triu(1)
    want = ref(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), need_weights=False, attn_mask=mask)[0].transpose(0, 1)
    assert torch.allclose(ours(x, mask), want, atol=1e-5)


@pytest.fixture
def tiny_viclip(tmp_path):
    torch.manual_seed(0)
    model = ViCLIP(TINY_VICLIP)
    with torch.no_grad():
        model.vision_encoder.temporal_positional_embedding.normal_(0, 0.5)  # released weights are not zero
    path = tmp_path / "ViClip-InternVid-10M-FLT.pth"
    torch.save({"model": model.state_dict()}, path)  # the released layout: {"model": state_dict}
    return model, path


def test_viclip_loads_the_released_layout_and_scores(tiny_viclip):
    model, path = tiny_viclip
    scorer = ViCLIPScorer(path, config=TINY_VICLIP)
    videos = [_video(1), _video(2), _video(1)]
    v = scorer.embed_videos(videos)
    t = scorer.embed_texts(["a girl in a green raincoat", "an empty street in the rain"])
    assert v.shape == (3, 16) and t.shape == (2, 16)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5) and np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    assert np.allclose(v[0], v[2], atol=1e-6) and not np.allclose(v[0], v[1], atol=1e-3)
    # Same numbers as the in-memory model on the released preprocessing (8 frames, 28x28, ImageNet norm).
    frames = torch.from_numpy(videos[1][[0, 2, 4, 6, 8, 10, 12, 14]]).permute(0, 3, 1, 2).float() / 255
    frames = F.interpolate(frames, size=(28, 28), mode="bilinear", align_corners=False)
    frames = (frames - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        want = F.normalize(model.vision_encoder(frames.permute(1, 0, 2, 3).unsqueeze(0)), dim=-1)[0].numpy()
    assert np.allclose(v[1], want, atol=1e-5)
    # The frame order matters (temporal embedding), and text is cut at 32 tokens with the end token kept.
    assert not np.allclose(scorer.embed_videos([videos[1][::-1].copy()])[0], v[1], atol=1e-4)
    tokens = scorer.tokenizer(["word " * 100])
    assert tokens.shape == (1, 32) and int(tokens[0, -1]) == scorer.tokenizer.eot_token_id


def test_viclip_checkpoint_errors_are_scoring_errors(tiny_viclip, tmp_path):
    model, path = tiny_viclip
    with pytest.raises(ScoringError, match="does not fit"):
        load_viclip(path)  # a tiny checkpoint is not ViCLIP-L/14
    sd = model.state_dict()
    del sd["vision_encoder.proj"]
    bad = tmp_path / "bad.pth"
    torch.save({"model": sd}, bad)
    with pytest.raises(ScoringError, match="vision_encoder.proj"):
        load_viclip(bad, TINY_VICLIP)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ScoringError, match="not a readable ViCLIP checkpoint"):
        load_viclip(junk, TINY_VICLIP)
    with pytest.raises(ScoringError, match="huggingface-cli download OpenGVLab/VBench_Used_Models"):
        load_viclip(tmp_path / "absent.pth")


@pytest.fixture
def tiny_clip_folder(tmp_path):
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.model.CLIP(**TINY_CLIP).eval()
    folder = tmp_path / "clip-vit-l-14"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    return model, folder


def _expected_scores(model, head, frames: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255  # (N, 3, 48, 80)
    x = F.interpolate(x, size=(28, round(80 * 28 / 48)), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    left = (x.shape[-1] - 28) // 2
    x = x[..., :, left:left + 28]
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    with torch.no_grad():
        f = F.normalize(model.encode_image((x - mean) / std), dim=-1)
        return (head(f).squeeze(-1) / 10).numpy()


def test_laion_linear_head_on_open_clip_built_from_its_config(tiny_clip_folder, tmp_path):
    model, folder = tiny_clip_folder
    torch.manual_seed(1)
    head = nn.Linear(16, 1)
    torch.save(head.state_dict(), tmp_path / "sa_0_4_vit_l_14_linear.pth")
    scorer = LaionAesthetic(folder, tmp_path / "sa_0_4_vit_l_14_linear.pth")
    frames = _video(3, 4)
    got = scorer.score(frames)
    assert got.shape == (4,) and got.dtype == np.float32
    assert np.allclose(got, _expected_scores(model, head, frames), atol=1e-5)


def test_laion_mlp_head_layout(tiny_clip_folder, tmp_path):
    _, folder = tiny_clip_folder
    torch.manual_seed(2)
    sizes = [16, 12, 8, 6, 4, 1]
    sd = {}
    for idx, (i, o) in zip((0, 2, 4, 6, 7), zip(sizes, sizes[1:])):
        lin = nn.Linear(i, o)
        sd[f"layers.{idx}.weight"], sd[f"layers.{idx}.bias"] = lin.weight.data, lin.bias.data
    torch.save(sd, tmp_path / "mlp.pth")
    head = load_head(tmp_path / "mlp.pth")
    x = torch.randn(2, 16)
    want = x
    for idx in (0, 2, 4, 6, 7):
        want = F.linear(want, sd[f"layers.{idx}.weight"], sd[f"layers.{idx}.bias"])
    with torch.no_grad():
        assert torch.allclose(head(x), want, atol=1e-6)
    assert LaionAesthetic(folder, tmp_path / "mlp.pth").score(_video(4, 2)).shape == (2,)


def test_clip_and_head_errors(tmp_path, tiny_clip_folder):
    _, folder = tiny_clip_folder
    (tmp_path / "head.pth").write_bytes(b"junk")
    with pytest.raises(ScoringError, match="not a readable LAION aesthetic head"):
        load_head(tmp_path / "head.pth")
    torch.save({"weight": torch.zeros(1, 16), "bias": torch.zeros(1)}, tmp_path / "ok.pth")
    with pytest.raises(ScoringError, match="not a CLIP ViT-L/14 checkpoint"):
        other = {**TINY_CLIP, "vision_cfg": {**TINY_CLIP["vision_cfg"], "width": 48}}
        LaionAesthetic(folder / "open_clip_model.safetensors", tmp_path / "ok.pth", model_cfg=other)
    with pytest.raises(ScoringError, match="vit_large_patch14_clip_224"):
        LaionAesthetic(tmp_path / "empty", tmp_path / "ok.pth")


def test_build_judges_fallback_and_paper_models(tmp_path, monkeypatch):
    monkeypatch.delenv("DAILIES_EVAL_MODELS", raising=False)
    j = build_judges(EvalModels(faces=False))
    assert not j.comparable and j.video.has_text is False
    assert any("NOT comparable" in n for n in j.notices)
    with pytest.raises(ScoringError) as e:
        build_judges(EvalModels(models_dir=str(tmp_path), faces=False))
    msg = str(e.value)
    assert "CLIP ViT-L/14, LAION aesthetic head, ViCLIP" in msg and "\n" not in msg
    monkeypatch.setenv("DAILIES_EVAL_MODELS", str(tmp_path / "nowhere"))
    with pytest.raises(ScoringError, match="not a folder"):
        build_judges(EvalModels(faces=False))
