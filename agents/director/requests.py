"""From script, bible, memory and directives to a :class:`RenderRequest`, and its input hash.

Pure functions: the same inputs give the same request and the same hash, which is what makes
resume and selective re-rendering exact.
"""

from __future__ import annotations

from schemas.bible import Bible, Character
from schemas.memory import Keyframe, MemorySettings
from schemas.render import MAX_REQUEST_PROMPT, SEED_LIMIT, MemoryImage, RenderMode, RenderRequest, SceneRecord
from schemas.run import RunSettings, ShotDirectives
from schemas.script import Shot
from story.details import inject_details
from story.files import sha256_file, sha256_json

RESEED_STRIDE = 1_000_003
"""A re-rolled shot's seed: its base seed + reroll * RESEED_STRIDE (never collides with another shot)."""


def shot_seed(seed_base: int, reroll: int) -> int:
    """A shot renders with its own base seed (run seed + position at creation, as StoryMem's
    seed + i), moved by re-rolls; wrapped below :data:`SEED_LIMIT`, so any run seed the settings
    accept gives valid seeds for every shot and re-roll (unchanged for every seed that does not wrap)."""
    return (seed_base + reroll * RESEED_STRIDE) % SEED_LIMIT


def shot_mode(shot: Shot, has_memory: bool, continuation: RenderMode) -> RenderMode:
    """cut=false continues the previous shot (MI2V/MM2V); otherwise M2V with memory, T2V without."""
    if not shot.cut and shot.index > 0:
        return continuation
    return "m2v" if has_memory else "t2v"


def shot_prompt(shot: Shot, directives: ShotDirectives, bible: Bible) -> str:
    """The script prompt (or its replacement) with the requested characters' details written in."""
    base = directives.prompt or shot.prompt
    wanted: list[Character] = []
    for name in directives.inject:
        try:
            wanted.append(bible.character(name))
        except KeyError:
            continue
    prompt = inject_details(base, wanted, cast=wanted)
    while len(prompt) > MAX_REQUEST_PROMPT and wanted:
        wanted = wanted[:-1]  # the details that fit, in the order they were asked for (never an over-long request)
        prompt = inject_details(base, wanted, cast=wanted)
    return prompt


def choose_memory(
    history: list[Keyframe], directives: ShotDirectives, settings: MemorySettings, select
) -> list[Keyframe]:
    """Memory for one shot: the bank's selection (sink + pins + window) over the history the shot
    may see, minus the keyframes the directives drop, plus the ones they add (within max_size)."""
    dropped = set(directives.memory_drop)
    visible = [k for k in history if k.id not in dropped]
    chosen = list(select(visible, settings))
    by_id = {k.id: k for k in history}
    for kid in directives.memory_add:
        k = by_id.get(kid)
        if k is not None and not k.dropped and all(c.id != kid for c in chosen):
            chosen.append(k)
    # Over max_size after adds: give up the oldest window entries (never the sink, a pin or an add).
    protected = set(directives.memory_add) | {k.id for k in [k for k in visible if not k.dropped][: settings.sink_size]}
    while len(chosen) > settings.max_size:
        victims = [k for k in chosen if k.id not in protected and not k.pinned]
        if not victims:
            break
        chosen.remove(victims[0])
    order = {k.id: i for i, k in enumerate(history)}
    return sorted(chosen, key=lambda k: order[k.id])


def build_request(
    *,
    shot: Shot,
    prompt: str,
    mode: RenderMode,
    memory: list[MemoryImage],
    tail: list[str],
    seed: int,
    settings: RunSettings,
    characters: list[Character],
    negative_prompt: str | None,
    previous_scene: SceneRecord | None = None,
) -> RenderRequest:
    """Assemble the request; ``tail`` is the previous shot's last frames (absolute PNG paths),
    ``previous_scene`` the world the previous shot was drawn in (continuations only)."""
    extra: dict = {}
    if negative_prompt:
        extra["negative_prompt"] = negative_prompt
    if mode == "mi2v":
        extra["first_frame"] = tail[-1]
    elif mode == "mm2v":
        extra["motion_frames"] = tail[-5:]
    if mode in ("mi2v", "mm2v") and previous_scene is not None:
        extra["previous_scene"] = previous_scene
    return RenderRequest(
        shot_id=shot.id,
        prompt=prompt,
        mode=mode,
        memory=memory,
        seed=seed,
        width=settings.width,
        height=settings.height,
        num_frames=settings.num_frames,
        fps=settings.fps,
        characters=characters,
        **extra,
    )


def input_hash(request: RenderRequest, engine_fingerprint: str) -> str:
    """Hash of everything that determines the shot's frames: prompt, mode, seed, size, the
    content of its first/motion frames, the ids and content hashes of its memory, the characters
    it draws, the scene records it is given (the previous shot's and its memory's) and the engine's
    identity and settings. Paths and the shot's id do not count (a renumbered shot with the same
    inputs renders the same frames); an absent scene record leaves the hash as it was before
    records existed (runs of engines that report none keep their hashes)."""
    payload = request.model_dump(mode="json", exclude={"shot_id"})
    payload["memory"] = [(m.id, m.sha256) if m.scene is None else (m.id, m.sha256, m.scene.model_dump(mode="json"))
                         for m in request.memory]
    if payload.get("previous_scene") is None:
        payload.pop("previous_scene", None)
    payload["first_frame"] = sha256_file(request.first_frame) if request.first_frame else None
    payload["motion_frames"] = [sha256_file(p) for p in request.motion_frames]
    payload["engine"] = engine_fingerprint
    return sha256_json(payload)
