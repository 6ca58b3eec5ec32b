"""The director graph's state, declared once.

Checkpointed by LangGraph's SQLite saver after every node, so it holds ids, counters and small
JSON (the current request: paths and hashes), never frames or tensors. Everything bulky lives in
the run directory; ``manifest.json`` is the source of truth for what has been done.
"""

from __future__ import annotations

from typing import Literal, TypedDict

Action = Literal["accept", "reprompt", "inject_details", "swap_keyframes", "rerender"]


class DirectorState(TypedDict, total=False):
    n_shots: int
    """Shots in the film (set by ``plan``)."""
    cursor: int
    """Index of the shot being worked on; ``n_shots`` once every shot is accepted."""
    attempt: int
    """1 for the first render of the current shot, 2 for its first retry, ..."""
    max_retries: int
    """Retries allowed per shot (run settings)."""
    total_retries: int
    """Retries spent across the run so far."""
    max_total_retries: int
    """Retries allowed across the run (run settings)."""
    request: dict | None
    """The current shot's RenderRequest as JSON (paths, ids, hashes)."""
    input_hash: str | None
    """Hash of the current request's inputs."""
    reuse: bool
    """True when the prepared shot's accepted files already match its inputs."""
    verdict: Action | None
    """Action of the latest critique of the current shot."""
    done: bool
    """True once the film is assembled."""
    revision_request: str | None
    """A revision's request in words (absent for a render)."""
    target_version: int
    """The film version a revision creates."""
    thread: str
    """The LangGraph thread id of this pass (stored in the manifest when a revision commits)."""
    proposal: dict | None
    """The proposed edits, the script diff and the shots that will be rendered again."""
    approved: bool
    """The person's answer at review."""
