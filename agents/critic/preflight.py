"""The check every critic runs before a render: named characters must carry their bible details."""

from __future__ import annotations

from schemas.bible import Bible
from schemas.critique import CritiqueReport, Finding, InjectDetails
from schemas.render import RenderRequest
from story.details import missing_details


def details_preflight(critic: str, request: RenderRequest, bible: Bible) -> CritiqueReport | None:
    """``InjectDetails`` for the characters ``request.prompt`` names without their appearance/attire
    (StoryMem's remedy for multi-character confusion), or ``None`` when the prompt is fine."""
    missing = missing_details(request.prompt, list(bible.characters))
    if not missing:
        return None
    names = [c.name for c in missing]
    finding = Finding(
        check="explicit_details",
        severity="major",
        message=f"prompt names {', '.join(names)} without their bible details (appearance/attire)",
    )
    return CritiqueReport(
        critic=critic, attempt=1, stage="preflight", findings=[finding],
        verdict=InjectDetails(characters=names, reason=finding.message),
    )
