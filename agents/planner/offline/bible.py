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
        if role and role not in (noun, "person", "kid", "child"):
            appearance = f"a {lead}{build} {role}, a {noun} with {hair}, {face}"
        age = _pick(rng, AGES[group][gender])
        attire = seed.attire or ROLE_ATTIRE.get(seed.head) or _pick(rng, DEFAULT_ATTIRE)
        if role:
            aliases += [f"the {role}"] + ([f"the {seed.head}"] if seed.adjuncts else [])
    elif seed.kind == "robot":
        name = seed.name or _unique_name(rng, ROBOT_NAMES, taken)
        appearance = ROBOT_LOOK if seed.head in ("robot", "bot", "droid", "machine") else \
            f"a sleek {seed.head} with a pale synthetic face and seams of faint blue light"
        if look_words:
            appearance = f"a {look_words} {appearance[2:]}"
        attire = seed.attire or ROLE_ATTIRE.get(seed.head, "")
        age = "old and well-worn" if seed.age_group == "elder" else ""
        aliases += [f"the {role or seed.head}"]
    else:  # animal, creature or machine
        base = YOUNG_ANIMALS.get(seed.head, seed.head)
        desc = (ANIMALS.get(seed.head) or ANIMALS.get(base) or CREATURES.get(seed.head)
                or MACHINES.get(seed.head) or f"a {seed.head}")
        if look_words:
            desc = re.sub(r"^(a|an) ", lambda m: f"a {look_words} ", desc, count=1)
        appearance = desc
        age = {"elder": "old", "child": "young", "young": "young", "teen": "young"}.get(seed.age_group, "")
        if seed.head in YOUNG_ANIMALS and not age:
            age = "very young"
        attire = seed.attire or ANIMAL_ATTIRE.get(seed.head, "")
        name = seed.name or f"the {seed.head}"
        if seed.name:
            aliases.append(f"the {seed.head}")
        elif seed.adjuncts:
            aliases.append(f"the {' '.join(seed.adjuncts)} {seed.head}")
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


def _unique_name(rng: random.Random, pool, taken: set[str]) -> str:
    start = rng.randrange(len(pool))
    for k in range(len(pool)):
        cand = pool[(start + k) % len(pool)]
        if cand.casefold() not in taken:
            return cand
    return f"{pool[start]} {len(taken) + 1}"
