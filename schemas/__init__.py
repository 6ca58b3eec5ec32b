"""The only contract between planner, critic, director and engine (pydantic models only)."""

from schemas.bible import Bible, Character
from schemas.critique import (
    Accept,
    CritiqueInput,
    CritiqueReport,
    Finding,
    InjectDetails,
    Rerender,
    Reprompt,
    SwapKeyframes,
    Verdict,
)
from schemas.plan import Plan
from schemas.memory import Keyframe, MemorySettings, MemoryState
from schemas.render import MOTION_FRAMES, WAN_NEGATIVE_PROMPT, MemoryImage, RenderMode, RenderRequest, SceneRecord
from schemas.run import BackendInfo, RunManifest, RunSettings, ShotDirectives, ShotOutputs, ShotState, Usage
from schemas.script import Scene, Shot, ShotId, StoryScript, make_shot_id, parse_shot_id

__all__ = [
    "Accept", "BackendInfo", "Bible", "Character", "CritiqueInput", "CritiqueReport", "Finding",
    "InjectDetails", "Keyframe", "Plan", "MOTION_FRAMES", "MemoryImage", "MemorySettings", "MemoryState",
    "RenderMode", "RenderRequest", "Rerender", "Reprompt", "RunManifest", "RunSettings", "Scene", "SceneRecord",
    "Shot", "ShotDirectives", "ShotId", "ShotOutputs", "ShotState", "StoryScript", "SwapKeyframes", "Usage",
    "Verdict", "WAN_NEGATIVE_PROMPT", "make_shot_id", "parse_shot_id",
]
