"""bench/profile_trace.py: kernel kinds and per-stage attribution on a synthetic Chrome trace (the GPU runs of
``bench/engine_gpu.py --profile`` write the real ones)."""

from __future__ import annotations

import pytest

from bench import profile_trace


@pytest.mark.parametrize("name, kind", [
    # cuDNN convolutions are implicit GEMMs: they must not count as GEMM time (the VAE's share would vanish)
    ("sm90_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_ndhwc_kndhwc_tilesize128x128x64_execute_kernel__5x_cudnn", "convolution"),
    ("cutlass__5x_cudnn::Kernel<cutlass_tensorop_bf16_s16816fprop_optimized_bf16_128x128_32x3_nhwc_align8>", "convolution"),
    ("void cudnn::detail::implicit_convolve_sgemm<float, float, 128, 5, 5, 3, 3, 3, 1, false, false, true>", "convolution"),
    # Inductor's pointwise kernels name their ops: convert_element_type is not a convolution
    ("triton_poi_fused_add_convert_element_type_mul_0", "other"),
    ("triton_poi_fused__to_copy_convert_element_type_1", "copy"),
    ("nvjet_tst_192x192_64x4_2x1_v_bz_coopB_TNT", "gemm"),
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_kernel", "gemm"),
    ("triton_tem_fused_mm_0", "gemm"),
    ("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_3_64x64x128_4x1x1_kernel0_0", "attention"),
    ("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)", "nccl"),
    ("void at::native::elementwise_kernel<128, 2, at::native::direct_copy_kernel_cuda>", "copy"),
    ("void cudnn::ops::nchwToNhwcKernel<float, float, float, false, true, (cudnnKernelDataType_t)2>", "copy"),
])  # fmt: skip
def test_kernel_kinds(name, kind):
    assert profile_trace.kind_of(name) == kind


def test_kernels_are_attributed_to_the_stage_they_start_in():
    def x(cat, name, ts, dur):
        return {"ph": "X", "cat": cat, "name": name, "ts": ts, "dur": dur}

    events = [
        x("user_annotation", "stage:decode", 100_000, 100_000),  # microseconds
        x("kernel", "implicit_convolve_sgemm", 110_000, 50_000),
        x("kernel", "nvjet_tst_gemm", 170_000, 20_000),
        x("kernel", "nvjet_tst_gemm", 210_000, 10_000),  # after the stage
    ]
    report = profile_trace.analyse(events)
    decode, outside = report["stages"]["decode"], report["stages"]["outside"]
    assert decode["kind_s"] == {"convolution": 0.05, "gemm": 0.02} and decode["gpu_busy_s"] == 0.07
    assert outside["kernels"] == 1 and outside["kind_s"] == {"gemm": 0.01}


def test_the_profiled_shot_is_not_a_repeat_of_the_timed_one(tmp_path):
    """``bench/engine_gpu.py --profile`` renders a third shot under the profiler: with the timed shot's request again
    the pipeline's prompt and memory caches would hit and the trace would show no encode_prompt/encode_memory work.
    The section profiles ``_shot_request(seed=2)``: each of the three requests has its own prompt and memory images
    (seed 2 had seed 0's prompt, a cache hit)."""
    from bench import engine_gpu

    dims = engine_gpu.Dims(tiny=True)
    requests = [engine_gpu._shot_request(dims, tmp_path, seed=seed) for seed in (0, 1, 2)]
    assert len({r.prompt for r in requests}) == 3
    assert len({tuple(m.sha256 for m in r.memory) for r in requests}) == 3
