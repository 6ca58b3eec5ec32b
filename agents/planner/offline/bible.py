"""The bible: a full :class:`~schemas.bible.Character` invented for each character read from the
logline (names, appearance, attire, age and aliases; see "Naming" in the package docstring)."""

from __future__ import annotations

import random
import re

from agents.planner.offline.lexicon import (
    ACCESSORIES,
    AGES,
    ANIMAL_ATTIRE,
    ANIMALS,
    BUILD,
    CREATURES,
    DEFAULT_ATTIRE,
    FACES,
    GENDER_NOUN,
    HAIR,
    MACHINES,
    NAMES_F,
    NAMES_M,
    ROBOT_LOOK,
    ROBOT_NAMES,
    ROLE_AGE,
    ROLE_ATTIRE,
    YOUNG_ANIMALS,
)
from agents.planner.offline.nouns import Seed
from schemas.bible import Character


def _pick(rng: random.Random, options) -> str:
    return options[rng.randrange(len(options))]


def _role_phrase(seed: Seed) -> str:
    return " ".join([*seed.adjuncts, seed.head]) if seed.head != "person" else ""


def _character(seed: Seed, rng: random.Random, taken: set[str], worn: set[str], style: str) -> Character:
    role = _role_phrase(seed)
    aliases: list[str] = []
    manner = ", ".join(seed.traits[:2])
    look_words = " ".join(seed.looks)
    if seed.kind == "person":
        gender = seed.gender or _pick(rng, ("m", "f"))
        group = seed.age_group or ROLE_AGE.get(seed.head) or _pick(rng, ("adult", "adult", "adult", "elder", "young"))
        if group == "child" and seed.age_group == "young":
            group = "young"
        noun = GENDER_NOUN[(group, gender)]
        name = seed.name or _unique_name(rng, NAMES_F if gender == "f" else NAMES_M, taken)
        build = _pick(rng, BUILD[group])
        hair = _pick(rng, HAIR[(group, gender)])
        face = _pick(rng, FACES)
        lead = f"{look_words} " if look_words else ""
        appearance = f"a {lead}{build} {noun} with {hair}, {face}"
        if role and role not in (noun, "person", "child"):
            appearance = f"a {lead}{build} {role}, a {noun} with {hair}, {face}"
        age = _pick(rng, AGES[group][gender])
        attire = seed.attire or ROLE_ATTIRE.get(seed.head) or _pick(rng, DEFAULT_ATTIRE)
        if role:
            aliases += [f"the {role}"] + ([f"the {seed.head}"] if seed.adjuncts else [])
    elif seed.kind == "robot":
        name = seed.name or _unique_name(rng, ROBOT_NAMES, taken)
        kind_word = seed.species or seed.head
        appearance = ROBOT_LOOK if kind_word in ("robot", "bot", "droid", "machine") else \
            f"a sleek {kind_word} with a pale synthetic face and seams of faint blue light"
        if seed.role:  # "an android nurse"
            appearance = re.sub(rf"\b{re.escape(kind_word)}\b", f"{kind_word} {seed.role}", appearance, count=1)
        if look_words:
            appearance = f"a {look_words} {appearance[2:]}"
        attire = seed.attire or ROLE_ATTIRE.get(seed.role or seed.head, "")
        age = "old and well-worn" if seed.age_group == "elder" else ""
        aliases += [f"the {role or seed.head}"] + ([f"the {seed.role}", f"the {kind_word}"] if seed.role else [])
    else:  # animal, creature or machine
        appearance, name, extra = _animal(seed, look_words)
        aliases += extra
        age = {"elder": "old", "child": "young", "young": "young", "teen": "young"}.get(seed.age_group, "")
        if seed.young and not age:
            age = "very young"
        attire = seed.attire or ("" if seed.kin_of is not None else ANIMAL_ATTIRE.get(seed.head, ""))
    if seed.collective and seed.kind in ("animal", "creature"):
        appearance = f"{appearance}, {'one' if seed.copy else 'the leader'} of its {seed.collective}"
    if attire and attire in worn:
        attire = f"{attire}, with {ACCESSORIES[len(worn) % len(ACCESSORIES)]}"
    if attire:
        worn.add(attire)
    if name.casefold() in taken:  # two of the same animal: "the whale" and "the second whale"
        ordinal = ("second", "third", "fourth")[min(len([t for t in taken if t.endswith(seed.head)]) - 1, 2)]
        name = f"the {ordinal} {seed.head}" if name.startswith("the ") else f"{name} {ordinal.title()}"
    taken.add(name.casefold())
    manner_style = ", ".join(p for p in (manner, style) if p)
    aliases = [a for a in dict.fromkeys(aliases) if a.casefold() != name.casefold()][:4]
    return Character(name=name[:60], appearance=appearance[:300], attire=attire[:300], age=age,
                     style=manner_style[:300], aliases=aliases)


def _animal(seed: Seed, look_words: str) -> tuple[str, str, list[str]]:
    """(appearance, name, aliases) of an animal or creature: its species' look, young (``a young
    red fox cub``) or grown (``the mother fox``) as the logline says, its role kept in its name."""
    species = seed.species or YOUNG_ANIMALS.get(seed.head, seed.head)
    desc = (ANIMALS.get(seed.head) if seed.head != species and not seed.species else None) or ANIMALS.get(species) \
        or CREATURES.get(species) or MACHINES.get(seed.head) or f"a {species}"
    young_word = seed.head if seed.head in YOUNG_ANIMALS and seed.head != species else ""
    if seed.young:
        if young_word and young_word not in desc:
            desc = re.sub(rf"\b{re.escape(species)}\b", f"{species} {young_word}", desc, count=1)
        if not re.search(rf"\b({re.escape(species)}|{re.escape(young_word or species)})\b", desc):
            desc = f"{desc}, a young {species}"
        desc = re.sub(r"^(a|an) (?:huge |big |large |massive |tall |powerful )?", "a young ", desc, count=1)
    elif seed.kin_of is not None and seed.head in ("mother", "father", "mom", "dad", "mum", "parent", "parents"):
        desc = re.sub(r"^(a|an) (?:small |tiny |young )?", "a full-grown ", desc, count=1)
    if look_words:
        desc = re.sub(r"^(a|an) ", lambda m: f"a {look_words} ", desc, count=1)
    aliases: list[str] = []
    if seed.name:
        return desc, seed.name, [f"the {species}"]
    if seed.kin_of is not None and seed.head != species:
        name = f"the {seed.head} {species}" if seed.head in ("mother", "father", "mom", "dad", "mum") else f"the {seed.head}"
        aliases.append(f"the {seed.head}" if name != f"the {seed.head}" else f"the {species} {seed.head}")
    elif young_word and species not in young_word:
        name = f"the {species} {young_word}"
        aliases.append(f"the {young_word}")
    elif seed.role:
        name = f"the {species} {seed.role}"
        aliases += [f"the {species}", f"the {seed.role}"]
    else:
        name = f"the {seed.head}"
        if seed.adjuncts:
            aliases.append(f"the {' '.join(seed.adjuncts)} {seed.head}")
    return desc, name, aliases


def _unique_name(rng: random.Random, pool, taken: set[str]) -> str:
    start = rng.randrange(len(pool))
    for k in range(len(pool)):
        cand = pool[(start + k) % len(pool)]
        if cand.casefold() not in taken:
            return cand
    return f"{pool[start]} {len(taken) + 1}"
