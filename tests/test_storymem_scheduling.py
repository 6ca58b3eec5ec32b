"""The reference sampler: sigmas and timesteps as StoryMem/Wan build them (values below were read off the
released ``FlowUniPCMultistepScheduler``), through diffusers' UniPC."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.storymem.scheduling import M2V_SAMPLER, T2V_SAMPLER, SamplerSettings, make_scheduler, reference_sigmas


def test_reference_sigmas_start_below_one():
    sigmas = reference_sigmas(40)
    assert len(sigmas) == 40
    assert sigmas[0] == float(np.float32(0.999))  # float32 training sigma, not 1.0 as diffusers' default
    assert sigmas[-1] == pytest.approx(sigmas[0] / 40)


@pytest.mark.parametrize(
    "shift, head, tail",
    [(4.0, [999, 993, 986], [173, 92]), (12.0, [999, 997, 995], [386, 235])],
)
def test_timesteps_match_the_reference(shift, head, tail):
    scheduler = make_scheduler(shift)
    scheduler.set_timesteps(sigmas=reference_sigmas(40), device="cpu")
    timesteps = scheduler.timesteps.tolist()
    assert len(timesteps) == 40 and timesteps[:3] == head and timesteps[-2:] == tail
    assert scheduler.sigmas[-1] == 0.0
    shifted = shift * reference_sigmas(40) / (1 + (shift - 1) * reference_sigmas(40))
    assert torch.allclose(scheduler.sigmas[:-1].double(), torch.from_numpy(shifted), atol=1e-7)


def test_defaults_are_the_references():
    assert (M2V_SAMPLER.steps, M2V_SAMPLER.shift, M2V_SAMPLER.guidance, M2V_SAMPLER.guidance_2) == (40, 4.0, 3.5, 3.5)
    assert M2V_SAMPLER.boundary_ratio == 0.9
    assert (T2V_SAMPLER.shift, T2V_SAMPLER.boundary_ratio, T2V_SAMPLER.guidance) == (12.0, 0.875, 3.5)


def test_four_step_schedule_crosses_the_boundary_once():
    scheduler = make_scheduler(4.0)
    scheduler.set_timesteps(sigmas=reference_sigmas(4), device="cpu")
    assert scheduler.timesteps.tolist() == [999, 922, 799, 571]


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"shift": 0.0}, {"boundary_ratio": 1.5}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        SamplerSettings(**kwargs)
