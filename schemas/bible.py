"""The character bible and the cast of each shot: dailies' additions beside an ST-Bench script.

StoryMem's memory is purely visual, so in multi-character scenes it can attach the wrong look to a
character. The authors' remedy is explicit character details in every shot prompt; the bible is
where those details live, and :meth:`Character.details` is the one place that spells them out.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.script import ShotId

CharacterName = Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]
"""A character's display name as it appears in prompts (e.g. ``Mia``, ``the keeper``)."""

Detail = Annotated[str, StringConstraints(max_length=300, strip_whitespace=True)]


class Character(BaseModel):
    """One character's fixed look, injected into every prompt the character appears in."""

    model_config = ConfigDict(extra="forbid")

    name: CharacterName
    """Name used in prompts and edits; unique within the bible (case-insensitive)."""
    appearance: Detail = ""
    """Species/build/face/hair, e.g. ``a tall woman with short silver hair and green eyes``."""
    attire: Detail = ""
    """Clothing and accessories, e.g. ``a yellow raincoat and black rubber boots``."""
    age: Detail = ""
    """Apparent age, e.g. ``in her 60s``."""
    style: Detail = ""
    """Rendering style or manner, e.g. ``weathered, calm, cinematic realism``."""
    reference_images: list[str] = Field(default_factory=list, max_length=8)
    """Paths of reference images (relative to the bible file); they seed the memory bank (MR2V)."""
    aliases: list[CharacterName] = Field(default_factory=list, max_length=8)
    """Other words prompts use for this character (``the keeper``, ``he``-free nouns only)."""

    def details(self) -> str:
        """The explicit description that goes into prompts: ``Mia (a tall woman ..., wearing ...)``."""
        parts = [self.appearance] if self.appearance else []
        if self.age and self.age.casefold() not in self.appearance.casefold():
            parts.append(self.age)
        if self.attire:
            parts.append(f"wearing {self.attire}")
        if self.style:
            parts.append(self.style)
        return f"{self.name} ({', '.join(parts)})" if parts else self.name

    def mentions(self) -> list[str]:
        """All the words that refer to this character in a prompt."""
        return [self.name, *self.aliases]


class Bible(BaseModel):
    """Characters and who appears in which shot, stored as ``bible.json`` beside the script."""

    model_config = ConfigDict(extra="forbid")

    characters: list[Character] = Field(default_factory=list, max_length=32)
    """Every recurring character of the story."""
    cast: dict[ShotId, list[CharacterName]] = Field(default_factory=dict)
    """Per shot id, the names of the characters in that shot (a shot may have none)."""

    @model_validator(mode="after")
    def _names_consistent(self) -> "Bible":
        seen: set[str] = set()
        for c in self.characters:
            key = c.name.casefold()
            if key in seen:
                raise ValueError(f"character {c.name!r} appears twice (rule: names are unique)")
            seen.add(key)
        for shot_id, names in self.cast.items():
            for n in names:
                if n.casefold() not in seen:
                    raise ValueError(
                        f"shot {shot_id}: cast names {n!r}, which is not in the bible's characters "
                        "(rule: cast names are bible characters)"
                    )
        return self

    def character(self, name: str) -> Character:
        """The character called ``name`` (case-insensitive); ``KeyError`` if there is none."""
        for c in self.characters:
            if c.name.casefold() == name.casefold():
                return c
        raise KeyError(name)

    def in_shot(self, shot_id: str) -> list[Character]:
        """The characters cast in ``shot_id``, in cast order."""
        return [self.character(n) for n in self.cast.get(shot_id, [])]
