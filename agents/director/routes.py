"""Routers: pure functions of the state that name the next node."""

from __future__ import annotations

from typing import Literal

from agents.director.state import DirectorState


def start(state: DirectorState) -> Literal["plan", "propose"]:
    """A pass with a request is a revision; otherwise a render (or its continuation)."""
    return "propose" if state.get("revision_request") is not None else "plan"  # "" is a (refused) request


def after_review(state: DirectorState) -> Literal["commit", "__end__"]:
    """Apply the edits only if the person said yes."""
    return "commit" if state.get("approved") else "__end__"


def after_prepare(state: DirectorState) -> Literal["render", "update_memory"]:
    """A shot whose inputs are unchanged keeps its files: skip straight to the memory step."""
    return "update_memory" if state.get("reuse") else "render"


def after_critique(state: DirectorState) -> Literal["apply_verdict", "update_memory"]:
    """Retry while the critic asks for it and the per-shot and run budgets allow."""
    if state.get("verdict") in (None, "accept"):
        return "update_memory"
    retries_done = state.get("attempt", 1) - 1
    if retries_done >= state.get("max_retries", 0):
        return "update_memory"
    if state.get("total_retries", 0) >= state.get("max_total_retries", 0):
        return "update_memory"
    return "apply_verdict"


def after_memory(state: DirectorState) -> Literal["prepare", "assemble"]:
    """Next shot, or the film once every shot is done."""
    return "prepare" if state.get("cursor", 0) < state.get("n_shots", 0) else "assemble"
