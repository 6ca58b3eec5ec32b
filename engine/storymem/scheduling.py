"""The reference sampler: UniPC for flow matching, with the sigmas the StoryMem/Wan code builds.

The reference (Wan's ``FlowUniPCMultistepScheduler``, a flow-matching port of diffusers' UniPC) takes the
training sigmas ``1 - linspace(1, 1/1000, 1000)`` stored in float32, so ``sigma_max`` is ``float32(0.999)``
and ``sigma_min`` is 0, and samples ``linspace(sigma_max, sigma_min, steps + 1)[:-1]``, shifted by
``shift * s / (1 + (shift - 1) * s)``, with timesteps ``int(sigma * 1000)`` and a final sigma of 0.
diffusers' ``UniPCMultistepScheduler(use_flow_sigmas=True)`` starts from ``linspace(1, 1/1000, ...)``
instead; passing :func:`reference_sigmas` as ``sigmas`` makes it build the reference's schedule (it applies
``flow_shift`` to the sigmas it is given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_TRAIN_TIMESTEPS = 1000


@dataclass(frozen=True)
class SamplerSettings:
    """Sampling settings of one model (the reference's values by default: StoryMem M2V)."""

    steps: int = 40
    """Denoising steps (UniPC)."""
    shift: float = 4.0
    """Flow shift of the sigma schedule."""
    guidance: float = 3.5
    """Classifier-free guidance scale of the high-noise expert."""
    guidance_2: float = 3.5
    """Classifier-free guidance scale of the low-noise expert."""
    boundary_ratio: float = 0.9
    """The high-noise expert runs while ``t >= boundary_ratio * 1000``."""

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= NUM_TRAIN_TIMESTEPS:
            raise ValueError(
                f"steps must be 1 to {NUM_TRAIN_TIMESTEPS} (the schedule spreads the steps over the "
                f"{NUM_TRAIN_TIMESTEPS} training timesteps), got {self.steps}"
            )
        if self.shift <= 0:
            raise ValueError(f"shift must be > 0, got {self.shift}")
        if not 0.0 <= self.boundary_ratio <= 1.0:
            raise ValueError(f"boundary_ratio must be in [0, 1], got {self.boundary_ratio}")


M2V_SAMPLER = SamplerSettings()
"""StoryMem M2V/MI2V/MM2V (``wan_m2v_A14B.py``): 40 steps, shift 4.0, guidance 3.5 for both experts, boundary 0.9."""

T2V_SAMPLER = SamplerSettings(shift=12.0, boundary_ratio=0.875)
"""The first shot by Wan2.2-T2V-A14B as StoryMem's ``pipeline.py`` runs it: the T2V config's shift 12.0 and
boundary 0.875, with the command line's guidance 3.5 for both experts."""


def reference_sigmas(steps: int, num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """The reference's unshifted sampling sigmas: ``linspace(float32(1 - 1/T), 0, steps + 1)[:-1]`` (float64)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    sigma_max = float(np.float32(1.0 - 1.0 / num_train_timesteps))
    return np.linspace(sigma_max, 0.0, steps + 1)[:-1].copy()


def make_scheduler(shift: float):
    """diffusers' ``UniPCMultistepScheduler`` configured as the reference's flow UniPC solver
    (order 2, bh2, predict x0, lower-order final steps, final sigma 0) with ``flow_shift=shift``.
    Use it with ``set_timesteps(sigmas=reference_sigmas(steps))``."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        num_train_timesteps=NUM_TRAIN_TIMESTEPS,
        solver_order=2,
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=shift,
        predict_x0=True,
        solver_type="bh2",
        lower_order_final=True,
        final_sigmas_type="zero",
    )


DISTILL_TIMESTEPS: tuple[int, ...] = (1000, 750, 500, 250)
"""Timesteps of the Wan2.2-A14B 4-step distilled LoRAs before the shift (LightX2V's ``denoising_step_list``)."""


def distill_sigmas(num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """Unshifted sigmas of the 4-step distilled sampler: ``1 - t / T`` for t in :data:`DISTILL_TIMESTEPS`, as
    LightX2V's ``WanStepDistillScheduler`` picks them from ``linspace(1, 0, T + 1)``."""
    return np.array([t / num_train_timesteps for t in DISTILL_TIMESTEPS], dtype=np.float64)


def make_distill_scheduler(shift: float):
    """diffusers' ``FlowMatchEulerDiscreteScheduler`` for the distilled sampler: Euler over
    :func:`distill_sigmas` shifted by ``shift * s / (1 + (shift - 1) * s)``, timesteps ``1000 * sigma``, final
    sigma 0 -- the step LightX2V takes (``x + (sigma_next - sigma) * v``)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=shift)


def scheduler_for(solver: str, shift: float):
    """``unipc`` (the reference) or ``euler-distill`` (the 4-step LoRAs)."""
    if solver == "unipc":
        return make_scheduler(shift)
    if solver == "euler-distill":
        return make_distill_scheduler(shift)
    raise ValueError(f"unknown solver {solver!r}; use unipc or euler-distill")


def sampling_sigmas(scheduler, steps: int) -> np.ndarray:
    """The unshifted sigmas to pass to ``scheduler.set_timesteps(sigmas=...)`` for ``steps`` steps."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    if isinstance(scheduler, FlowMatchEulerDiscreteScheduler):
        if steps != len(DISTILL_TIMESTEPS):
            raise ValueError(f"the distilled sampler runs {len(DISTILL_TIMESTEPS)} steps, not {steps}")
        return distill_sigmas()
    return reference_sigmas(steps)
