"""The StoryMem engine: Wan2.2-A14B memory-to-video on diffusers.

Modules: ``pipeline`` (the diffusers pipeline), ``rope`` (memory placement on the time axis),
``scheduling`` (the reference sampler), ``loading`` (finding and loading the downloaded weights in either
layout), ``convert`` (original-format checkpoints), ``lora`` (the StoryMem LoRA), ``offload`` (GPU memory
modes), ``engine`` (:class:`~engine.storymem.engine.StoryMemEngine`), ``testing`` (tiny models for tests).
Import the module you need; this package imports nothing heavy.
"""
