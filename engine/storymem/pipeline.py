"""StoryMem memory-to-video on Wan2.2-A14B: one diffusers pipeline for every shot of a film.

With the I2V experts (``in_channels`` 36) and the StoryMem LoRA fused into them it renders

* **M2V** -- memory keyframes only (also the MR2V first shot, whose memory is the user's reference images);
* **MI2V** -- memory plus the previous shot's last frame as the first frame;
* **MM2V** -- memory plus the previous shot's last 5 frames as the first 5 frames;

and with the T2V experts (``in_channels`` 16) it renders the **T2V** first shot.

An M2V shot of ``F`` pixel frames (``f = (F-1)/4 + 1`` latent frames) with ``M`` memory images:

1. each memory image is VAE-encoded on its own as a 1-frame video: ``M`` latent frames;
2. the video condition is the VAE encoding of the ``K`` conditioning frames (0, 1 or 5) followed by zeros;
3. the mask is 1 on every memory latent frame and on the latent frames that hold the ``K`` pixel frames;
4. the transformer sees ``cat(noise, mask, cat(memory, video condition))`` over channels (16 + 4 + 16), the
   noise covering memory and video frames alike (``M + f`` latent frames);
5. memory frames sit at temporal RoPE positions ``0..M-1`` (``released``) or ``-M*S..-S`` (``paper``);
6. the high-noise expert denoises while ``t >= boundary``, the low-noise expert after, each with CFG;
7. the first ``M`` latent frames are dropped and the rest decoded into the ``F`` frames of the shot.

Images whose aspect differs from the shot's are centre-cropped to it before the resize, never squashed.
Encodings are reused where their inputs are equal (the prompt and negative prompt embeddings, each memory
image's latent, the all-zero video condition): the same input gives the same tensor, so the frames do not
change (tests/test_storymem_pipeline.py). ``timings`` holds the seconds of each stage of the last call. With a
:class:`CfgSplit` (``cfg_split``), the conditional and unconditional forwards of each step run on two ranks;
with ``vae_group`` every VAE encode (memory images, video condition) and the decode run in row bands over its
ranks (engine/storymem/parallel_vae.py), every rank calling the pipeline in lockstep with the same inputs.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.pipelines.wan.pipeline_wan import prompt_clean
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import get_module_execution_device, randn_tensor
from transformers import PreTrainedTokenizerBase, UMT5EncoderModel

from engine.framing import centre_crop_box
from engine.storymem import vae_chunks
from engine.storymem.limits import check_shape
from engine.storymem.rope import MEMORY_POSITIONS, PAPER_MEMORY_STRIDE, install_positional_rope, memory_frame_positions
from engine.storymem.scheduling import sampling_sigmas
from schemas.render import WAN_NEGATIVE_PROMPT

ImageInput = PIL.Image.Image | np.ndarray
"""An RGB image: PIL, or a uint8 array ``(H, W, 3)``."""

LATENT_CHANNELS = 16
MASK_CHANNELS = 4
PROMPT_CACHE_SIZE = 8
MEMORY_CACHE_SIZE = 64
_PIXEL_VALUES = (torch.arange(256, dtype=torch.float32).div(255.0) * 2.0 - 1.0).numpy()
"""uint8 ``v`` -> ``v / 255 * 2 - 1`` in float32, computed with the same torch ops as a whole image would be."""


class CfgSplit:
    """CFG-parallel: rank 0 of ``group`` runs the conditional forward, rank 1 the unconditional one, and both
    gather the two predictions (``torch.distributed.all_gather``), so every rank takes the same step."""

    def __init__(self, group, rank: int):
        if rank not in (0, 1):
            raise ValueError(f"a CFG split has ranks 0 and 1, got {rank}")
        self.group = group
        self.rank = rank

    def gather(self, local: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's prediction -> (conditional, unconditional), each ``local``'s shape."""
        import torch.distributed as dist

        local = local.contiguous()
        parts = [torch.empty_like(local) for _ in range(2)]
        dist.all_gather(parts, local, group=self.group)
        return parts[0], parts[1]


@dataclass
class StoryMemPipelineOutput(BaseOutput):
    """``frames``: uint8 ``(B, F, H, W, 3)`` (``output_type="np"``), float ``(B, 3, F, H, W)`` in [-1, 1]
    (``"pt"``), or the video latents ``(B, 16, f, h, w)`` without memory frames (``"latent"``)."""

    frames: np.ndarray | torch.Tensor


class StoryMemPipeline(DiffusionPipeline):
    """Memory-conditioned shot generation with the two Wan2.2-A14B experts (see the module docstring).

    Components: ``tokenizer`` and ``text_encoder`` (umT5-XXL), ``vae`` (Wan2.1), ``scheduler`` (UniPC flow),
    ``transformer`` (high-noise expert) and ``transformer_2`` (low-noise expert). ``boundary_ratio``: the
    high-noise expert runs while ``t >= boundary_ratio * num_train_timesteps``."""

    model_cpu_offload_seq = "text_encoder->transformer->transformer_2->vae"
    _optional_components = ["transformer_2"]
    _callback_tensor_inputs = ["latents"]

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        text_encoder: UMT5EncoderModel,
        vae: AutoencoderKLWan,
        scheduler: UniPCMultistepScheduler,
        transformer: WanTransformer3DModel,
        transformer_2: WanTransformer3DModel | None = None,
        boundary_ratio: float = 0.9,
    ):
        super().__init__()
        self.register_modules(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            scheduler=scheduler,
            transformer=transformer,
            transformer_2=transformer_2,
        )
        self.register_to_config(boundary_ratio=boundary_ratio)
        for expert in (transformer, transformer_2):
            if expert is not None:
                install_positional_rope(expert)
        self.vae_scale_factor_temporal = vae.config.scale_factor_temporal
        self.vae_scale_factor_spatial = vae.config.scale_factor_spatial
        self._zero_condition_cache: dict[tuple, torch.Tensor] = {}
        self._prompt_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._memory_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._device_override: torch.device | None = None
        self.cfg_split: CfgSplit | None = None
        self.vae_group = None  # a process group of > 1 ranks: patch-parallel VAE encode and decode (engine/storymem/parallel_vae.py)
        # frames per VAE call after frame 0 (engine/storymem/vae_chunks.py): latent frames for the decoder, pixel
        # frames (a multiple of 4) for the encoder; 1 and 4 are diffusers' own loops
        self.vae_decode_chunk, self.vae_encode_chunk = 1, 4
        self.cudnn_autotune = False  # cuDNN times its conv algorithms for the VAE calls (a preset setting; restored after)
        self.timings: dict[str, float] = {}
        self.set_progress_bar_config(disable=True)

    # ------------------------------------------------------------------ caches and timing

    def clear_caches(self) -> None:
        """Forget every reused encoding (prompt embeddings, memory latents, zero conditions)."""
        self._zero_condition_cache.clear()
        self._prompt_cache.clear()
        self._memory_cache.clear()

    @staticmethod
    def _remember(cache: OrderedDict, key: tuple, value: torch.Tensor, size: int) -> torch.Tensor:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)
        return value

    @contextmanager
    def _stage(self, name: str, device: torch.device):
        """Add the seconds of the block (the device synchronised at both ends) to ``timings[name]``."""
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with torch.profiler.record_function(f"stage:{name}"):  # a range in profiler traces (bench/profile_trace.py)
            try:
                yield
            finally:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)  # inside the range: its kernels end before it does
                self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    @contextmanager
    def _vae_autotune(self):
        """``torch.backends.cudnn.benchmark`` = :attr:`cudnn_autotune` for one VAE call, then what it was (the flag is
        process-wide: another engine or library in the process keeps its own)."""
        before = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = self.cudnn_autotune
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = before

    # ------------------------------------------------------------------ properties

    def set_execution_device(self, device: torch.device | str | None) -> None:
        """Where latents and conditions live when a :class:`~engine.storymem.offload.MemoryPlan` keeps
        components off the GPU between calls (None: diffusers' own rule)."""
        self._device_override = None if device is None else torch.device(device)

    @property
    def _execution_device(self) -> torch.device:
        if self._device_override is not None:
            return self._device_override
        return super()._execution_device

    @property
    def is_memory_model(self) -> bool:
        """True for the I2V experts (noise + mask + condition channels), False for T2V (noise only)."""
        return self.transformer.config.in_channels == 2 * LATENT_CHANNELS + MASK_CHANNELS

    @property
    def experts(self) -> list[WanTransformer3DModel]:
        return [m for m in (self.transformer, self.transformer_2) if m is not None]

    # ------------------------------------------------------------------ inputs

    def check_inputs(
        self,
        prompt: str | None,
        prompt_embeds: torch.Tensor | None,
        negative_prompt: str | None,
        negative_prompt_embeds: torch.Tensor | None,
        memory_images: list[ImageInput] | None,
        first_frame: ImageInput | None,
        motion_frames: list[ImageInput] | None,
        height: int,
        width: int,
        num_frames: int,
        num_inference_steps: int,
        memory_positions: str,
        memory_stride: int,
        output_type: str,
    ) -> None:
        if (prompt is None) == (prompt_embeds is None):
            raise ValueError("pass exactly one of `prompt` and `prompt_embeds`")
        if prompt is not None and not isinstance(prompt, str):
            raise ValueError(f"`prompt` must be a string, got {type(prompt).__name__}")
        if negative_prompt is not None and negative_prompt_embeds is not None:
            raise ValueError("pass at most one of `negative_prompt` and `negative_prompt_embeds`")
        if first_frame is not None and motion_frames:
            raise ValueError("pass `first_frame` (MI2V) or `motion_frames` (MM2V), not both")
        num_conditioning = 1 if first_frame is not None else len(motion_frames or [])
        spatial = self.vae_scale_factor_spatial * self.transformer.config.patch_size[1]
        check_shape(height, width, num_frames, num_conditioning, spatial=spatial, temporal=self.vae_scale_factor_temporal)
        if num_inference_steps < 1:
            raise ValueError(f"`num_inference_steps` must be >= 1, got {num_inference_steps}")
        if memory_positions not in MEMORY_POSITIONS:
            raise ValueError(f"`memory_positions` must be one of {MEMORY_POSITIONS}, got {memory_positions!r}")
        if memory_stride < 1:
            raise ValueError(f"`memory_stride` must be >= 1, got {memory_stride}")
        if output_type not in ("np", "pt", "latent"):
            raise ValueError(f"`output_type` must be 'np', 'pt' or 'latent', got {output_type!r}")
        if not self.is_memory_model and (memory_images or first_frame is not None or motion_frames):
            raise ValueError(
                "`memory_images`, `first_frame` and `motion_frames` need the I2V experts (in_channels 36); "
                "this pipeline holds text-to-video experts"
            )

    # ------------------------------------------------------------------ text

    def prompt_embeddings(self, prompt: str, device: torch.device, max_sequence_length: int = 512) -> torch.Tensor:
        """:meth:`encode_prompt` of one prompt ``(1, L, D)``, reused while the same text comes again (the negative
        prompt of every shot, a retried prompt): the cached tensor is the one a fresh encoding computed."""
        key = (prompt, max_sequence_length, str(device))
        if key in self._prompt_cache:
            self._prompt_cache.move_to_end(key)
            return self._prompt_cache[key]
        return self._remember(self._prompt_cache, key, self.encode_prompt([prompt], device, max_sequence_length), PROMPT_CACHE_SIZE)

    def encode_prompt(
        self, prompts: list[str], device: torch.device, max_sequence_length: int = 512
    ) -> torch.Tensor:
        """umT5 embeddings ``(B, max_sequence_length, D)``, zero past each prompt's tokens (as Wan pads)."""
        texts = [prompt_clean(p) for p in prompts]
        tokens = self.tokenizer(
            texts,
            padding="max_length",
            max_length=max_sequence_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        ids, mask = tokens.input_ids, tokens.attention_mask  # (B, L)
        model_device = self._device_override or get_module_execution_device(self.text_encoder)
        hidden = self.text_encoder(ids.to(model_device), mask.to(model_device)).last_hidden_state  # (B, L, D)
        hidden = hidden.to(device) * mask.to(device).unsqueeze(-1).to(hidden.dtype)  # (B, L, D), zero padding
        return hidden

    # ------------------------------------------------------------------ pixels and latents

    @staticmethod
    def to_pixels(images: list[ImageInput], height: int, width: int) -> torch.Tensor:
        """RGB images -> ``(N, 3, height, width)`` float32 in [-1, 1]. An image of another aspect is centre-cropped
        to the shot's aspect (never squashed), then resized bicubic (as the reference) when its size differs."""
        out = []
        for image in images:
            array = np.asarray(image.convert("RGB")) if isinstance(image, PIL.Image.Image) else np.asarray(image)
            if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
                raise ValueError(f"images must be RGB uint8 (H, W, 3), got {array.dtype} {array.shape}")
            left, top, right, bottom = centre_crop_box(array.shape[1], array.shape[0], width, height)
            array = array[top:bottom, left:right]  # (h1, w1, 3), the shot's aspect
            # x / 255 * 2 - 1 in float32 through a 256-entry table, in numpy's one thread: torch's elementwise ops on
            # a permuted 832x480 image took 0.1-0.2 s with the worker processes of a multi-GPU shot sharing the cores
            pixels = torch.from_numpy(np.ascontiguousarray(_PIXEL_VALUES[array].transpose(2, 0, 1)))  # (3, h1, w1)
            if pixels.shape[1:] != (height, width):
                pixels = F.interpolate(pixels[None], size=(height, width), mode="bicubic")[0]  # (3, H, W)
            out.append(pixels)
        return torch.stack(out)  # (N, 3, H, W)

    def _latent_stats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.tensor(self.vae.config.latents_mean, dtype=torch.float32, device=device)
        inv_std = 1.0 / torch.tensor(self.vae.config.latents_std, dtype=torch.float32, device=device)
        return mean.view(1, -1, 1, 1, 1), inv_std.view(1, -1, 1, 1, 1)  # (1, 16, 1, 1, 1) each

    def _vae_encode(self, video: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Pixels ``(B, 3, T, H, W)`` in [-1, 1] -> normalised latent means ``(B, 16, t, h, w)`` float32. With
        ``vae_group`` (more than one rank, every rank calling this with the same pixels) and ``H`` a multiple of
        8 times its size, each rank encodes a band of rows up to the encoder's mid block and all get the whole
        latents (:func:`~engine.storymem.parallel_vae.patch_parallel_encode`, equal to the whole encode);
        otherwise the whole encode runs here."""
        vae_device = get_module_execution_device(self.vae)
        video = video.to(vae_device, self.vae.dtype)  # (B, 3, T, H, W)
        with self._vae_autotune():
            if self._vae_encode_split(video.shape[-2]) > 1:
                from engine.storymem.parallel_vae import patch_parallel_encode

                latents = patch_parallel_encode(self.vae, video, self.vae_group, chunk=self.vae_encode_chunk).mode()  # (B, 16, t, h, w)
            else:
                latents = vae_chunks.encode(self.vae, video, self.vae_encode_chunk).mode()  # (B, 16, t, h, w)
        mean, inv_std = self._latent_stats(device)
        return (latents.to(device, torch.float32) - mean) * inv_std

    def encode_memory(self, memory_pixels: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Memory images ``(M, 3, H, W)``, each encoded alone as a 1-frame video -> ``(1, 16, M, h, w)``.
        One image per VAE call: a batch of 10 at 832x480 peaks near 20 GiB, one image at about 2. An image whose
        pixels were encoded before (the same keyframe in a later shot) reuses that latent. With ``vae_group`` each
        image is encoded in row bands too (:meth:`_vae_encode`): exact, and every rank sees the same cache hits,
        since every rank renders the same shots in the same order."""
        latents = []
        for image in memory_pixels:  # (3, H, W)
            digest = hashlib.blake2b(np.ascontiguousarray(image.numpy()).data, digest_size=16).hexdigest()  # no copy
            key = (digest, tuple(image.shape), str(device))
            if key in self._memory_cache:
                self._memory_cache.move_to_end(key)
                latents.append(self._memory_cache[key])
                continue
            latent = self._vae_encode(image[None, :, None], device)  # (1, 16, 1, h, w)
            latents.append(self._remember(self._memory_cache, key, latent, MEMORY_CACHE_SIZE))
        latents = torch.cat(latents)  # (M, 16, 1, h, w)
        return latents.squeeze(2).transpose(0, 1).unsqueeze(0)  # (1, 16, M, h, w)

    def encode_video_condition(
        self, conditioning_pixels: torch.Tensor | None, num_frames: int, height: int, width: int, device: torch.device
    ) -> torch.Tensor:
        """The shot's video condition: the ``K`` conditioning frames ``(K, 3, H, W)`` (or none) followed by
        ``num_frames - K`` zero frames, VAE-encoded -> ``(1, 16, f, h, w)``. The all-zero condition (M2V)
        depends only on the shape, so it is encoded once and cached."""
        num_conditioning = 0 if conditioning_pixels is None else conditioning_pixels.shape[0]
        # Built on the VAE's device in its dtype: 81 frames at 832x480 are 388 MB in float32, which the CPU would
        # otherwise fill and copy every shot. The same values either way (the bf16 rounding of the K frames is the
        # same on every device).
        vae_device = get_module_execution_device(self.vae)
        if num_conditioning == 0:
            key = (num_frames, height, width, str(device))
            if key not in self._zero_condition_cache:
                zeros = torch.zeros(1, 3, num_frames, height, width, device=vae_device, dtype=self.vae.dtype)  # (1, 3, F, H, W)
                self._zero_condition_cache[key] = self._vae_encode(zeros, device)
            return self._zero_condition_cache[key]
        video = torch.zeros(1, 3, num_frames, height, width, device=vae_device, dtype=self.vae.dtype)  # (1, 3, F, H, W)
        video[0, :, :num_conditioning] = conditioning_pixels.transpose(0, 1).to(vae_device, self.vae.dtype)  # (3, K, H, W)
        return self._vae_encode(video, device)

    def prepare_mask(
        self, num_memory: int, num_frames: int, num_conditioning: int, latent_height: int, latent_width: int
    ) -> torch.Tensor:
        """The condition mask ``(1, 4, M + f, h, w)``: 1 on memory latent frames and on the video latent frames
        that hold the ``num_conditioning`` first pixel frames, 0 elsewhere. Each latent frame has 4 mask
        channels, one per pixel frame it covers; the first latent frame covers pixel frame 0 alone, so its 4
        channels repeat that frame's value (Wan's convention)."""
        stride = self.vae_scale_factor_temporal
        pixel_mask = torch.zeros(num_frames)
        pixel_mask[:num_conditioning] = 1.0  # (F,)
        video = torch.cat([pixel_mask[:1].repeat(stride), pixel_mask[1:]]).view(-1, stride)  # (f, 4)
        memory = torch.ones(num_memory, stride)  # (M, 4)
        mask = torch.cat([memory, video]).transpose(0, 1)  # (4, M + f)
        return mask[None, :, :, None, None].expand(1, stride, mask.shape[1], latent_height, latent_width).clone()

    def prepare_latents(
        self,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        device: torch.device,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Initial noise ``(1, 16, M + f, h, w)`` float32; drawn from ``generator`` (on its own device, so a CPU
        generator gives the same noise on every device)."""
        if latents is not None:
            if tuple(latents.shape) != tuple(shape):
                raise ValueError(f"`latents` must have shape {tuple(shape)}, got {tuple(latents.shape)}")
            return latents.to(device, torch.float32)
        return randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)

    def set_memory_positions(self, num_memory: int, num_latent_frames: int, layout: str, stride: int) -> None:
        """Place memory and video latent frames on the time axis of both experts' RoPE."""
        positions = None
        if num_memory:
            positions = memory_frame_positions(num_memory, num_latent_frames, layout, stride)
        for expert in self.experts:
            expert.rope.set_frame_positions(positions)

    def decode(self, latents: torch.Tensor, output_type: str) -> np.ndarray | torch.Tensor:
        """Normalised video latents ``(B, 16, f, h, w)`` -> frames (see :class:`StoryMemPipelineOutput`). With
        ``vae_group`` (more than one rank, every rank calling this with the same latents) and ``h`` a multiple of
        its size, each rank decodes a band of rows and all get the whole video
        (:func:`~engine.storymem.parallel_vae.patch_parallel_decode`); otherwise the whole decode runs here."""
        if output_type == "latent":
            return latents
        vae_device = get_module_execution_device(self.vae)
        mean, inv_std = self._latent_stats(vae_device)
        latents = latents.to(vae_device, torch.float32) / inv_std + mean  # (B, 16, f, h, w)
        with self._vae_autotune():
            if self._vae_split(latents.shape[-2]) > 1:
                from engine.storymem.parallel_vae import patch_parallel_decode

                video = patch_parallel_decode(self.vae, latents.to(self.vae.dtype), self.vae_group, chunk=self.vae_decode_chunk)  # (B, 3, F, H, W)
            else:
                video = vae_chunks.decode(self.vae, latents.to(self.vae.dtype), self.vae_decode_chunk)  # (B, 3, F, H, W)
        video = video.float().clamp(-1, 1)  # (B, 3, F, H, W)
        if output_type == "pt":
            return video
        frames = ((video + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 4, 1).contiguous()  # (B, F, H, W, 3)
        if frames.device.type == "cuda":  # into page-locked memory: a pageable copy of 97 MB took 76 ms on an H200 host
            host = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
            return host.copy_(frames).numpy()
        return frames.numpy()

    def _vae_split(self, latent_height: int) -> int:
        """How many ranks share the VAE decode: the size of ``vae_group`` when ``latent_height`` splits into it, else 1."""
        if self.vae_group is None:
            return 1
        import torch.distributed as dist

        size = dist.get_world_size(self.vae_group)
        return size if size > 1 and latent_height % size == 0 else 1

    def _vae_encode_split(self, height: int) -> int:
        """How many ranks share a VAE encode of frames ``height`` pixels high: the size of ``vae_group`` when the
        encoder splits into it (``height`` a multiple of 8 times the size for the Wan 2.1 VAE;
        :func:`~engine.storymem.parallel_vae.encode_refusal`), else 1."""
        if self.vae_group is None:
            return 1
        import torch.distributed as dist

        from engine.storymem.parallel_vae import encode_refusal

        size = dist.get_world_size(self.vae_group)
        return size if size > 1 and encode_refusal(self.vae, height, size) is None else 1

    def denoise(
        self,
        latents: torch.Tensor,
        condition: torch.Tensor | None,
        prompt_embeds: torch.Tensor,
        negative_prompt_embeds: torch.Tensor | None,
        num_inference_steps: int,
        guidance_scale: float,
        guidance_scale_2: float,
        do_cfg: bool,
        attention_kwargs: dict[str, Any] | None,
        callback_on_step_end: Callable | None,
    ) -> torch.Tensor:
        """The sampling loop over the scheduler's sigma schedule (the reference's for UniPC, the distilled one for
        Euler; :func:`~engine.storymem.scheduling.sampling_sigmas`): the high-noise expert (``transformer``)
        while ``t >= boundary``, the low-noise expert (``transformer_2``) after, each with CFG as two forwards
        (on two ranks with ``cfg_split``). ``latents`` ``(1, 16, M + f, h, w)``, ``condition``
        ``(1, 20, M + f, h, w)`` or None (T2V)."""
        device = latents.device
        transformer_dtype = self.transformer.dtype
        self.scheduler.set_timesteps(sigmas=sampling_sigmas(self.scheduler, num_inference_steps), device=device)
        boundary_timestep = self.config.boundary_ratio * self.scheduler.config.num_train_timesteps
        for i, t in enumerate(self.scheduler.timesteps):
            if self.transformer_2 is None or t >= boundary_timestep:
                expert, scale = self.transformer, guidance_scale
            else:
                expert, scale = self.transformer_2, guidance_scale_2
            model_input = latents if condition is None else torch.cat([latents, condition], dim=1)
            model_input = model_input.to(transformer_dtype)  # (1, 16 or 36, M + f, h, w)
            timestep = t.expand(model_input.shape[0])  # (1,)

            def forward(embeds: torch.Tensor, context: str) -> torch.Tensor:
                with expert.cache_context(context):
                    return expert(
                        hidden_states=model_input,
                        timestep=timestep,
                        encoder_hidden_states=embeds,
                        attention_kwargs=attention_kwargs,
                        return_dict=False,
                    )[0]  # (1, 16, M + f, h, w)

            if do_cfg and self.cfg_split is not None:
                rank = self.cfg_split.rank
                local = forward(prompt_embeds if rank == 0 else negative_prompt_embeds, ("cond", "uncond")[rank])
                noise_pred, noise_uncond = self.cfg_split.gather(local)  # (1, 16, M + f, h, w) each
                noise_pred = noise_uncond + scale * (noise_pred - noise_uncond)
            elif do_cfg:
                noise_pred = forward(prompt_embeds, "cond")
                noise_uncond = forward(negative_prompt_embeds, "uncond")
                noise_pred = noise_uncond + scale * (noise_pred - noise_uncond)
            else:
                noise_pred = forward(prompt_embeds, "cond")
            latents = self.scheduler.step(noise_pred, t, latents, return_dict=False)[0]  # (1, 16, M + f, h, w)
            if callback_on_step_end is not None:
                outputs = callback_on_step_end(self, i, t, {"latents": latents})
                latents = (outputs or {}).get("latents", latents)
        return latents

    # ------------------------------------------------------------------ the algorithm

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        memory_images: list[ImageInput] | None = None,
        first_frame: ImageInput | None = None,
        motion_frames: list[ImageInput] | None = None,
        height: int = 480,
        width: int = 832,
        num_frames: int = 81,
        num_inference_steps: int = 40,
        guidance_scale: float = 3.5,
        guidance_scale_2: float | None = None,
        memory_positions: str = "released",
        memory_stride: int = PAPER_MEMORY_STRIDE,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        attention_kwargs: dict[str, Any] | None = None,
        callback_on_step_end: Callable[[DiffusionPipeline, int, torch.Tensor, dict], dict] | None = None,
        max_sequence_length: int = 512,
    ) -> StoryMemPipelineOutput | tuple:
        """Render one shot. ``memory_images`` (oldest first) condition M2V; add ``first_frame`` for MI2V or the
        ``motion_frames`` for MM2V (5 for the StoryMem MM2V LoRA); none of them with the T2V experts.
        ``negative_prompt`` defaults to Wan's (as the reference does for an empty one). ``latents`` (optional) is the initial
        noise over memory and video latent frames. ``guidance_scale`` applies to ``transformer``,
        ``guidance_scale_2`` (default: the same) to ``transformer_2``; guidance <= 1 disables CFG.
        ``callback_on_step_end(pipe, step, t, {"latents": ...})`` runs after each step. Returns the frames
        of the video only (memory frames dropped), including any leading conditioning frames."""
        memory_images = list(memory_images or [])
        motion_frames = list(motion_frames or [])
        self.check_inputs(
            prompt, prompt_embeds, negative_prompt, negative_prompt_embeds, memory_images, first_frame,
            motion_frames, height, width, num_frames, num_inference_steps, memory_positions, memory_stride,
            output_type,
        )  # fmt: skip
        device = self._execution_device
        guidance_scale_2 = guidance_scale if guidance_scale_2 is None else guidance_scale_2
        do_cfg = guidance_scale > 1.0 or guidance_scale_2 > 1.0

        # 1. Encode the prompt and the negative prompt (reused while the text is the same).
        self.timings = {}
        with self._stage("encode_prompt", device):
            if prompt_embeds is None:
                prompt_embeds = self.prompt_embeddings(prompt, device, max_sequence_length)  # (1, L, D)
            if do_cfg and negative_prompt_embeds is None:
                negative = WAN_NEGATIVE_PROMPT if negative_prompt is None else negative_prompt
                negative_prompt_embeds = self.prompt_embeddings(negative, device, max_sequence_length)
        prompt_embeds = prompt_embeds.to(device, self.transformer.dtype)  # (1, L, D)
        if do_cfg:
            negative_prompt_embeds = negative_prompt_embeds.to(device, self.transformer.dtype)  # (1, L, D)

        # 2. Encode the memory: one latent frame per memory image.
        latent_height = height // self.vae_scale_factor_spatial
        latent_width = width // self.vae_scale_factor_spatial
        num_latent_frames = (num_frames - 1) // self.vae_scale_factor_temporal + 1
        num_memory = len(memory_images)
        condition = None
        if self.is_memory_model:
            memory_latents = torch.zeros(1, LATENT_CHANNELS, 0, latent_height, latent_width, device=device)  # (1, 16, 0, h, w)
            with self._stage("encode_memory", device):
                if num_memory:
                    memory_latents = self.encode_memory(self.to_pixels(memory_images, height, width), device)  # (1, 16, M, h, w)

            # 3. The video condition (first frame / motion frames, then zeros) and the mask.
            conditioning = [first_frame] if first_frame is not None else motion_frames
            with self._stage("encode_video_condition", device):
                conditioning_pixels = self.to_pixels(conditioning, height, width) if conditioning else None  # (K, 3, H, W)
                video_condition = self.encode_video_condition(
                    conditioning_pixels, num_frames, height, width, device
                )  # (1, 16, f, h, w)
            mask = self.prepare_mask(
                num_memory, num_frames, len(conditioning), latent_height, latent_width
            ).to(device)  # (1, 4, M + f, h, w)
            condition = torch.cat(
                [mask, torch.cat([memory_latents, video_condition], dim=2)], dim=1
            )  # (1, 20, M + f, h, w)

        # 4. Noise over memory and video latent frames; memory placement on the time axis.
        latents = self.prepare_latents(
            (1, LATENT_CHANNELS, num_memory + num_latent_frames, latent_height, latent_width),
            generator,
            device,
            latents,
        )  # (1, 16, M + f, h, w)
        self.set_memory_positions(num_memory, num_latent_frames, memory_positions, memory_stride)

        # 5. Denoise: high-noise expert while t >= boundary, then the low-noise expert, CFG on each.
        try:
            with self._stage("denoise", device):
                latents = self.denoise(
                    latents, condition, prompt_embeds, negative_prompt_embeds, num_inference_steps,
                    guidance_scale, guidance_scale_2, do_cfg, attention_kwargs, callback_on_step_end,
                )  # fmt: skip
        finally:
            self.set_memory_positions(0, num_latent_frames, memory_positions, memory_stride)  # back to stock 0..F-1

        # 6. Drop the memory frames and decode the video.
        with self._stage("decode", device):
            frames = self.decode(latents[:, :, num_memory:], output_type)  # video only
        self.maybe_free_model_hooks()
        if not return_dict:
            return (frames,)
        return StoryMemPipelineOutput(frames=frames)
