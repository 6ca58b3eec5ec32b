"""What the director's nodes work with that is not checkpointed: the run directory, the backends
(engine, critic, embedder, scorer, planner) and the progress sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agents.critic.base import Critic
from agents.director.rundir import RunDir
from agents.planner.base import Planner
from agents.reviser.base import Reviser
from engine.base import Engine, FrameEmbedder, QualityScorer
from schemas.run import BackendInfo


class Events(Protocol):
    """Progress callbacks (the CLI draws bars from them; tests record them)."""

    def run_started(self, n_shots: int, done: int) -> None: ...
    def shot_started(self, shot_id: str, index: int, attempt: int, mode: str) -> None: ...
    def render_progress(self, done: int, total: int) -> None: ...
    def shot_finished(self, shot_id: str, index: int, status: str) -> None: ...
    def notice(self, message: str) -> None: ...
    def llm_progress(self, progress) -> None:
        """A model answer streaming in: ``progress`` is an :class:`agents.llm.Progress` (label, tokens,
        tokens/s, done). Optional: callers look it up with ``getattr``."""


class NullEvents:
    def run_started(self, n_shots: int, done: int) -> None: ...
    def shot_started(self, shot_id: str, index: int, attempt: int, mode: str) -> None: ...
    def render_progress(self, done: int, total: int) -> None: ...
    def shot_finished(self, shot_id: str, index: int, status: str) -> None: ...
    def notice(self, message: str) -> None: ...
    def llm_progress(self, progress) -> None: ...


@dataclass
class PlanRequest:
    """What the ``plan`` node asks a planner for when the run starts from a logline."""

    logline: str
    shots: int | None = None
    style: str | None = None


@dataclass
class Backends:
    """The implementations a run uses, each with its manifest description."""

    engine: Engine
    critic: Critic
    fallback_critic: Critic
    embedder: FrameEmbedder
    scorer: QualityScorer
    planner: Planner | None = None
    info: dict[str, BackendInfo] = field(default_factory=dict)
    identity: object | None = None
    """``engine.scoring.identity.IdentityScorer`` when dlib's face models are installed (the critic's
    identity check), else None."""
    engine_fingerprint: str = ""
    """Identity and settings of the engine that change its output (part of every input hash)."""


@dataclass
class Runtime:
    run: RunDir
    backends: Backends
    events: Events = field(default_factory=NullEvents)
    plan_request: PlanRequest | None = None
    reviser: Reviser | None = None
