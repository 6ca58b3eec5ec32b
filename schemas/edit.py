"""Edits to a finished film, as a typed list (what the reviser produces from a request in words),
and the record of each version of the film."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

ShotRef = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^(\d{2,}-\d{2,}|\d{1,4})$")]
"""A shot: its id ``SS-KK`` or its 1-based position in the film (``3``)."""

Prompt = Annotated[str, Field(min_length=1, max_length=2000)]


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EditPrompt(_Edit):
    """Replace one shot's prompt."""

    op: Literal["edit_prompt"] = "edit_prompt"
    """Discriminator."""
    shot: ShotRef
    """The shot to change."""
    prompt: Prompt
    """Its new prompt."""


class ReplaceText(_Edit):
    """Replace a phrase in prompts (and in the bible, so injected details agree)."""

    op: Literal["replace_text"] = "replace_text"
    """Discriminator."""
    old: str = Field(min_length=1, max_length=300)
    """Phrase to find (case-insensitive; each match keeps its capitals: "Dawn" -> "Stormy dusk")."""
    new: str = Field(max_length=300)
    """Replacement."""
    shots: list[ShotRef] | None = None
    """Limit to these shots (None: every shot and the bible)."""


class InsertShot(_Edit):
    """Add a new shot next to an existing one (it joins that shot's scene)."""

    op: Literal["insert_shot"] = "insert_shot"
    """Discriminator."""
    anchor: ShotRef
    """The existing shot it goes next to."""
    where: Literal["before", "after"] = "after"
    """Side of the anchor."""
    prompt: Prompt
    """The new shot's prompt."""
    cut: bool = True
    """False to continue from the previous shot's last frame."""


class DeleteShot(_Edit):
    """Remove a shot from the film."""

    op: Literal["delete_shot"] = "delete_shot"
    """Discriminator."""
    shot: ShotRef
    """The shot to remove."""


class MoveShot(_Edit):
    """Move a shot next to another one (it joins that shot's scene)."""

    op: Literal["move_shot"] = "move_shot"
    """Discriminator."""
    shot: ShotRef
    """The shot to move."""
    anchor: ShotRef
    """The shot it goes next to."""
    where: Literal["before", "after"] = "after"
    """Side of the anchor."""


class SetCut(_Edit):
    """Flip a shot's ``cut`` flag (false: continue from the previous shot's last frame)."""

    op: Literal["set_cut"] = "set_cut"
    """Discriminator."""
    shot: ShotRef
    """The shot."""
    cut: bool
    """New value."""


class EditCharacter(_Edit):
    """Change a bible character; every shot with the character follows."""

    op: Literal["edit_character"] = "edit_character"
    """Discriminator."""
    name: str = Field(min_length=1, max_length=60)
    """The character's current name."""
    field: Literal["name", "appearance", "attire", "age", "style"]
    """Which detail to change."""
    value: str = Field(max_length=300)
    """The new value."""


class PinKeyframe(_Edit):
    """Keep a memory keyframe in every later shot's memory."""

    op: Literal["pin_keyframe"] = "pin_keyframe"
    """Discriminator."""
    keyframe: str = Field(min_length=1, max_length=64)
    """Keyframe id, e.g. ``02-01-k1``."""


class UnpinKeyframe(_Edit):
    """Let a pinned keyframe leave the window again."""

    op: Literal["unpin_keyframe"] = "unpin_keyframe"
    """Discriminator."""
    keyframe: str = Field(min_length=1, max_length=64)
    """Keyframe id."""


class DropKeyframe(_Edit):
    """Stop a keyframe from conditioning any shot."""

    op: Literal["drop_keyframe"] = "drop_keyframe"
    """Discriminator."""
    keyframe: str = Field(min_length=1, max_length=64)
    """Keyframe id."""


class AddReference(_Edit):
    """Add a reference image of a character as memory (MR2V)."""

    op: Literal["add_reference"] = "add_reference"
    """Discriminator."""
    character: str = Field(min_length=1, max_length=60)
    """Bible character the image shows."""
    image: str = Field(min_length=1, max_length=1000)
    """Path of the image file."""


class Reroll(_Edit):
    """Render a shot again with a new seed."""

    op: Literal["reroll"] = "reroll"
    """Discriminator."""
    shot: ShotRef
    """The shot."""


Edit = Annotated[
    Union[EditPrompt, ReplaceText, InsertShot, DeleteShot, MoveShot, SetCut, EditCharacter,
          PinKeyframe, UnpinKeyframe, DropKeyframe, AddReference, Reroll],
    Field(discriminator="op"),
]
"""One change to the film."""


class EditList(BaseModel):
    """What a reviser returns for a request."""

    model_config = ConfigDict(extra="forbid")

    edits: list[Edit] = Field(min_length=1, max_length=64)
    """The changes, applied in order."""
    summary: str = Field(default="", max_length=500)
    """One sentence saying what the edits do."""


class VersionRecord(BaseModel):
    """One entry of ``versions/history.json``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    """Film version created (or made current again, for an undo)."""
    action: Literal["render", "revise", "undo"]
    """How it came about."""
    parent: int | None = None
    """Version it was derived from."""
    request: str = ""
    """The user's words (revisions)."""
    edits: list[Edit] = Field(default_factory=list)
    """The edits applied (revisions)."""
    at: str
    """ISO time."""
    rerendered: list[str] = Field(default_factory=list)
    """Shots rendered for this version (filled when the version is assembled)."""
    film: str | None = None
    """``film_vN.mp4`` once assembled."""
    pruned: str | None = None
    """ISO time ``prune`` removed the files only this version used (it can no longer be restored)."""
