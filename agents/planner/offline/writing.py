"""Writing the film: a :class:`_Writer` turns a premise and its characters into the script, shot by
shot (beats → scenes → shots, then one prompt per shot from the sentence templates)."""

from __future__ import annotations

import random
import re

from agents.planner.offline.beats import (
    ANIMAL_HERO,
    BEAT_WEIGHT,
    CAMERA_MOVES,
    CARE,
    CONFLICT_MOODS,
    AT_TIME,
    CUT_FRAMES,
    FILLERS,
    LEARNING,
    LIGHT_BY_TIME,
    MOMENTS,
    TIMES,
    MOODS,
    ROMANCE_MOODS,
    SCENE_BEATS,
    SEA_ANIMALS,
    SETUP,
    STATE_DEFAULT,
    Moment,
    _allocate,
    _scene_count,
    _Shot,
)
from agents.planner.offline.bible import _pick
from agents.planner.offline.lexicon import ANIMAL_ROUTINES, DETERMINERS, NUMBERS, STATE_ADJ
from agents.planner.offline.nouns import Seed
from agents.planner.offline.reading import Premise
from agents.planner.offline.settings import _WATERY, _split_place

TIMELINES = {3: ("morning", "afternoon", "sunset"), 4: ("morning", "midday", "afternoon", "sunset"),
             5: ("dawn", "morning", "midday", "afternoon", "sunset")}


def timeline(p: Premise, groups: list) -> list[str]:
    """The time of day of each scene: a day that moves forward, never back. A logline that sets the
    time (``at night``, ``at dawn``) sets it; a deadline (``before nightfall``) falls at the climax,
    and the ending keeps its time."""
    n = len(groups)
    order = list(TIMES)
    climax = next((k for k, g in enumerate(groups) if "climax" in g), n - 1)
    if p.deadline_time:
        end = order.index(p.deadline_time)
        out = [order[max(0, end - (climax - k))] for k in range(climax + 1)]
        return out + [p.deadline_time] * (n - climax - 1)
    if p.time in ("night", "dusk"):
        return [p.time] * n
    if p.time:
        start = order.index(p.time)
        return [order[min(start + k, len(order) - 1)] for k in range(n)]
    return list(TIMELINES.get(n, TIMELINES[5][:n]))
from schemas.bible import Character
from schemas.script import Scene, StoryScript, make_shot_id


class _Writer:
    """Writes one plan from a premise (one instance per plan; holds the random generator)."""

    def __init__(self, premise: Premise, characters: list[Character], seeds: list[Seed],
                 style: str | None, rng: random.Random) -> None:
        self.p = premise
        self.chars = characters
        self.seeds = seeds
        self.style = style
        self.rng = rng
        self.category = (premise.genre or premise.relation) if premise.readable else "unread"
        if self.category == "nature" and len(seeds) > 1 and seeds[1].kind == "animal" and seeds[1].kin_of is None \
                and seeds[1].group != seeds[0].group and (seeds[1].species or seeds[1].head) != seeds[0].species:
            self.category = "hunt"  # "a wolf pack hunts a deer"
        if self.category not in MOMENTS:
            self.category = "journey"
        self.places = self._places()
        self.times: list[str] = []
        self.lights: list[str] = []

    # -- structure ---------------------------------------------------------------------------
    def plan_shots(self, total: int) -> list[list[_Shot]]:
        """Beats → scenes → shots: each scene is a run of moments, each moment a cut shot followed
        (when the scene has room) by its continuation."""
        groups = SCENE_BEATS[_scene_count(total)]
        sizes = _allocate(total, [sum(BEAT_WEIGHT[b] for b in g) for g in groups])
        scenes: list[list[_Shot]] = []
        for g, k in zip(groups, sizes):
            m = (k + 1) // 2
            if m < len(g):
                beats = list(g[len(g) - m:])  # too few shots: keep the later beats (they turn the story)
            elif len(g) == 2:
                beats = [g[0]] * (m // 2) + [g[1]] * (m - m // 2)
            else:
                beats = [g[0]] * m
            queue = {b: self._moments(b, beats.count(b)) for b in dict.fromkeys(beats)}
            shots: list[_Shot] = []
            cut_frames = 0
            for pos in range(k):
                if pos % 2 == 0:
                    beat = beats[pos // 2]
                    moment = queue[beat].pop(0)
                    if pos == 0:
                        frame = "wide"
                    else:
                        frame = CUT_FRAMES[(cut_frames + len(scenes)) % len(CUT_FRAMES)]
                        cut_frames += 1
                    shots.append(_Shot(beat, moment, False, frame))
                else:
                    prev = shots[-1]
                    shots.append(_Shot(prev.beat, prev.moment, True, "cont"))
            scenes.append(shots)
        self.times = timeline(self.p, [g for g, _ in zip(groups, sizes)])
        self.lights = [self._scene_light(t, "climax" in g) for t, g in zip(self.times, groups)]
        return scenes

    def _scene_light(self, time: str, climax: bool) -> str:
        """One light for every shot of a scene: its time of day (the storm light of the climax at it)."""
        if climax and self.category not in ("unread",):
            return f"{self.p.setting.climax_light} {AT_TIME[time]}"
        return _pick(self.rng, LIGHT_BY_TIME[time])

    def _moments(self, beat: str, count: int) -> list[Moment]:
        """``count`` moments for ``beat``, in story order: a subset of the category's moments, then
        generic ones, then repeats (only for very long films)."""
        plain = self.category in ("world", "unread")
        if beat == "setup" and not plain and "setup" not in MOMENTS[self.category]:
            pool = list(SETUP)
        else:
            pool = list(MOMENTS[self.category].get(beat) or MOMENTS["journey"][beat])
        if beat == "rising" and self.p.skill:
            pool = [LEARNING] + pool  # "learns to fish": the learning is the rising action
            if count <= len(pool):
                return pool[:count]
        if count <= len(pool):
            keep = sorted(self.rng.sample(range(len(pool)), count))
            return [pool[i] for i in keep]
        extra = [] if plain else list(FILLERS[beat])
        out = pool + extra
        while len(out) < count:
            out += pool + extra
        return out[:count]

    def _places(self) -> list[str]:
        places = list(self.p.setting.places)
        self.rng.shuffle(places)
        return places

    def _scene_place(self, s_idx: int, shots: list[_Shot], used: set[str]) -> tuple[str, str]:
        """(where the establishing shot looks, where the actions happen), each ``prep|phrase``."""
        if s_idx == 0:
            if self.p.origin:  # an escape starts where it escapes from
                return f"in|{self.p.origin}", f"in|{self.p.origin}"
            return self.p.where, self.p.short
        if s_idx == 1 and self.p.origin:
            return self.p.where, self.p.short
        wet = any(self._in_moment(seed_i, shot.moment) and self.seeds[seed_i].head in SEA_ANIMALS
                  for shot in shots for seed_i in range(len(self.seeds)))
        pool = [pl for pl in self.places if not wet or _WATERY.search(pl)] or [self.p.where]
        fresh = [pl for pl in pool if pl not in used] or pool
        choice = fresh[0]
        used.add(choice)
        return choice, choice

    def _in_moment(self, seed_i: int, moment: Moment) -> bool:
        text = moment[0] + moment[1]
        if seed_i == 0:
            return "{A}" in text
        if seed_i == 1:
            return "{B}" in text or "{care}" in text or ("{with_B}" in text and self.p.together)
        return "{B}" in text and bool(self.chars[2:])

    # -- text ---------------------------------------------------------------------------------
    def write(self, total: int) -> tuple[StoryScript, dict[str, list[str]]]:
        plan = self.plan_shots(total)
        scenes: list[Scene] = []
        cast: dict[str, list[str]] = {}
        routine_i = self.rng.randrange(10)
        used_places: set[str] = set()
        for s_idx, shots in enumerate(plan):
            place = self._scene_place(s_idx, shots, used_places)
            prompts_: list[str] = []
            cuts: list[bool] = []
            carry: list[str] = []
            for k, shot in enumerate(shots):
                routine = self._routine(routine_i)
                if not shot.continuation and shot.beat == "setup":
                    routine_i += 1
                prompt, names = self._prompt(shot, place, routine, carry, s_idx)
                carry = ["ABCD"[self.chars.index(c)] for c in self.chars if c.name in names]
                prompts_.append(prompt)
                cuts.append(not shot.continuation)
                cast[make_shot_id(s_idx + 1, k + 1)] = names
            scenes.append(Scene(scene_num=s_idx + 1, video_prompts=prompts_, cut=cuts))
        script = StoryScript(story_name=self.title(), story_overview=self.overview(), scenes=scenes)
        return script, cast

    def _routine(self, i: int) -> str:
        if not self.seeds:
            return ""
        a = self.seeds[0]
        pool = ANIMAL_ROUTINES if a.kind in ("animal", "creature") else self.p.setting.routines
        return pool[i % len(pool)]

    def _prompt(self, shot: _Shot, place: tuple[str, str], routine: str, carry: list[str],
                s_idx: int = 0) -> tuple[str, list[str]]:
        """One shot's prompt and cast; ``carry``: characters of the previous shot that a continuation
        must keep in frame (it starts from that shot's last frame). Every shot of a scene has the
        scene's light, so its time of day never jumps."""
        rng = self.rng
        action = shot.moment[1] if shot.continuation else shot.moment[0]
        action = self._extras(action, shot.beat)
        action = self._stakes(action, shot, s_idx)
        light = self.lights[s_idx] if s_idx < len(self.lights) else _pick(rng, LIGHT_BY_TIME["morning"])
        mood = self._mood(shot.beat)
        sentences = []
        if shot.frame == "wide" and "{Light}" not in action and self.category != "unread":
            opener = _pick(rng, ("{Light} falls across {view}.", "{Light} washes over {view}.",
                                 "{view}, in {light}."))
            sentences.append(opener)
        action = self._fill(action, place, light, routine, shot.beat)
        if shot.continuation:
            kept = [c for c in carry if "{" + c + "}" not in action]
            if kept:
                who = _join(["{" + c + "}" for c in kept])
                action += f" {who} {'stay' if len(kept) > 1 else 'stays'} close by."
        sentences.append(action)
        ambient = [a for a in self.p.setting.ambient if a]
        if shot.frame == "wide" and self.category != "unread":
            if ambient and shot.beat != "climax" and rng.random() < 0.6:
                sentences.append(f"{_pick(rng, ambient)}, and the mood is {mood}.")
            else:
                sentences.append(f"The mood is {mood}." if rng.random() < 0.5 else f"The atmosphere feels {mood}.")
        else:
            sentences.append(_pick(rng, (f"{{Light}}, {_a(mood)} {mood} atmosphere.", f"{{Light}}; the mood is {mood}.",
                                         f"The scene feels {mood} in {light}.")))
        sentences.append(self._camera(shot))
        text = self._fill(" ".join(sentences), place, light, routine, shot.beat)
        text, names = self._characters(text)
        return _tidy(text), names

    def _stakes(self, action: str, shot: _Shot, s_idx: int) -> str:
        """The logline's deadline and obstacle, woven into the climax and the rising action; the
        deadline only in a scene at its time of day (``before nightfall`` at dusk)."""
        p = self.p
        if shot.continuation or "{A}" not in action:
            return action
        time = self.times[s_idx] if s_idx < len(self.times) else None
        if p.deadline and shot.beat == "climax" and (p.deadline_time in (None, time)):
            return action.rstrip(".") + f", racing to make it {p.deadline}."
        if p.occasion and shot.beat == "resolution" and p.occasion.split()[-1] not in action:
            return action.rstrip(".") + f", ready for {p.occasion}."
        if p.obstacle and shot.beat in ("rising", "climax"):
            words = p.obstacle.split()
            if words[0].lower() in ("a", "an", "the", "his", "her", "its", "their") and len(words) <= 3:
                return action.rstrip(".") + f", pressing on despite {p.obstacle}."
            return action.rstrip(".") + f", even as {p.obstacle}."
        return action

    def _mood(self, beat: str) -> str:
        pools = {"romance": ROMANCE_MOODS, "conflict": CONFLICT_MOODS}.get(self.category, {})
        mood = _pick(self.rng, pools.get(beat) or MOODS[beat])
        if beat == "setup" and self.seeds and self.seeds[0].traits:
            mood = f"{self.seeds[0].traits[0]} and {mood.split(' and ')[0].split(' but ')[0]}"
        return mood

    def _camera(self, shot: _Shot) -> str:
        style = f", {self.style}" if self.style else ""
        if shot.frame == "wide":
            return f"Wide establishing shot, the camera {_pick(self.rng, CAMERA_MOVES['wide'])}{style}."
        if shot.frame == "cont":
            return (f"Medium shot continuing smoothly from the previous frame, the camera "
                    f"{_pick(self.rng, CAMERA_MOVES['cont'])}{style}.")
        frame = shot.frame
        present = [c for c in ("A", "B") if "{" + c + "}" in shot.moment[0]]
        if "{X}" in frame:
            frame = frame.replace("{X}", "{A}" if present else "the scene")
        if "{Y}" in frame:
            frame = frame.replace("{Y}", "{" + present[-1] + "}" if present else "the scene")
        if frame == "Medium two-shot" and len(present) < 2:
            frame = "Medium shot"
        return f"{frame}, the camera {_pick(self.rng, CAMERA_MOVES['cut'])}{style}."

    def _extras(self, text: str, beat: str) -> str:
        """Characters beyond the hero, the other and the hero's team join the later beats."""
        first = max(2, self.p.team) if self.category in ("bond", "conflict", "romance") else self.p.team
        if self._sought() and beat in ("rising", "climax"):
            first = max(first, 2)  # the one sought is not there yet (the climax finds it)
        extra = self.chars[first:]
        if not extra or beat not in ("rising", "climax", "resolution") or "{A}" not in text:
            return text
        who = _join(["{" + "ABCD"[first + i] + "}" for i in range(len(extra))])
        clause = {"rising": f" while {who} keep watch nearby" if len(extra) > 1 else f" while {who} keeps watch nearby",
                  "climax": f" as {who} rush to help" if len(extra) > 1 else f" as {who} rushes to help",
                  "resolution": f", and {who} join them" if len(extra) > 1 else f", and {who} joins them"}[beat]
        return text[:-1] + clause + "." if text.endswith(".") else text + clause

    def _sought(self) -> bool:
        """A search for family (``searches for its mother``): the one sought appears only when found."""
        return (self.category == "seek" and not self.p.goal and len(self.seeds) > 1
                and self.seeds[1].kin_of is not None)

    def _fill(self, text: str, place: tuple[str, str], light: str, routine: str, beat: str = "") -> str:
        p = self.p
        if self.seeds and self.seeds[0].kind in ("animal", "creature"):
            for human, animal in ANIMAL_HERO.items():
                text = text.replace(human, animal)
        view_prep, view = _split_place(place[0])
        prep, phrase = _split_place(place[1])
        a_kind = self.seeds[0].kind if self.seeds else "person"
        b_seed = self.seeds[1] if len(self.seeds) > 1 else None
        with_b = ""
        if p.together and b_seed is not None:
            mates = _join(["{" + "ABCD"[i] + "}" for i in range(1, min(p.team, len(self.chars)))])
            with_b = _pick(self.rng, (f", with {mates} close beside", f", together with {mates}"))
        care_kind = "person"
        if b_seed is not None:
            care_kind = "sea" if b_seed.head in SEA_ANIMALS else b_seed.kind
        state = STATE_ADJ.get(b_seed.states[0], b_seed.states[0]) if b_seed and b_seed.states else \
            STATE_DEFAULT.get(self.category, "alone and in trouble") or "alone"
        goal = p.goal or {"seek": "the answer", "carry": "the precious package", "make": "something new",
                          "journey": "the far horizon"}.get(self.category, "the goal")
        if self._sought():
            pron = {"f": "her", "m": "his"}.get(self.seeds[0].gender, "its")
            goal = "{B}" if beat in ("climax", "resolution") else f"{pron} {self.seeds[1].head}"
        goal_bare = re.sub(r"^(the|a|an|his|her|their|its)\s+", "", goal, flags=re.IGNORECASE)
        hazard = p.setting.hazard
        subject = p.logline.rstrip(".!?。！？")
        if self.category == "world":
            subject = subject[:1].lower() + subject[1:] if subject[:2].isalpha() and not subject[1:2].isupper() else subject
        target, loot = self._heist_target()
        pursuer = self._pursuer()
        vehicle_on = ""
        if p.vehicle:
            vehicle_on = f" {'in' if p.vehicle.split()[-1] in ('plane', 'car', 'truck', 'van', 'balloon', 'helicopter', 'airplane', 'boat', 'canoe', 'kayak', 'raft') else 'on'} {p.vehicle}"
        toward = f" toward {goal}" if p.goal else ""
        season_clause = {"winter": " as winter draws near", "autumn": " as autumn turns the leaves",
                         "spring": " as spring warms the air", "summer": " in the long summer heat"}.get(p.season, "")
        values = {
            "over_goal": f" over {goal}" if p.goal else "", "refuge": p.goal or phrase, "season_clause": season_clause,
            "skill": p.skill or "try",
            "target": target, "loot": loot, "loot_bare": re.sub(r"^(the|a|an)\s+", "", loot),
            "pursuer": pursuer, "Pursuer": pursuer[:1].upper() + pursuer[1:], "vehicle_on": vehicle_on,
            "mystery": p.goal or "the mystery", "toward_goal": toward,
            "with_B": with_b, "place": phrase, "at_place": f"{prep} {phrase}", "view": view, "light": light, "Light": light[:1].upper() + light[1:],
            "routine": routine if a_kind else routine, "care": CARE[care_kind], "state": state,
            "goal": goal, "goal_bare": goal_bare, "hazard": hazard, "hazard_short": p.setting.hazard_short,
            "subject": subject,
        }
        # two passes: {care} and {with_B} bring {A}/{B} placeholders of their own
        for _ in range(2):
            text = re.sub(r"\{(with_B|place|at_place|view|light|Light|routine|care|state|goal|goal_bare|hazard|"
                          r"hazard_short|subject|target|loot|loot_bare|pursuer|Pursuer|vehicle_on|mystery|toward_goal|"
                          r"over_goal|refuge|season_clause|skill)\}",
                          lambda m: values[m.group(1)], text)
        return text

    def _heist_target(self) -> tuple[str, str]:
        """(what a heist breaks into, what it takes): ``the casino`` and ``the loot``."""
        p = self.p
        goal = p.goal
        words = goal.lower().split()
        place_word = next((w for w in words if w in p.setting.words and w not in ("heist", "heists")), None)
        if place_word:
            target = f"the {place_word}"
        else:
            target = "the " + _split_place(p.short)[1].removeprefix("the ")
        loot = goal if goal and "heist" not in words and not place_word else "the loot"
        if self.seeds and self.seeds[0].kind in ("animal", "creature") and goal and "heist" not in words:
            target, loot = goal, goal
        return target, loot

    def _pursuer(self) -> str:
        """Who or what gives chase: the other character, the logline's threat, or those the hero fled."""
        p = self.p
        if len(self.chars) > 1 and self.seeds[1].group != self.seeds[0].group and self.seeds[1].kin_of is None:
            return "{B}"
        if p.pursuer:
            return p.pursuer
        if p.origin:
            return f"a keeper from {p.origin}"
        return "a shadowy pursuer"

    def _characters(self, text: str) -> tuple[str, list[str]]:
        names: list[str] = []
        for i, c in enumerate(self.chars[:4]):
            token = "{" + "ABCD"[i] + "}"
            if token not in text:
                continue
            first = text.index(token)
            text = text[:first] + c.details() + text[first + len(token):]
            text = text.replace(token, c.name)
            names.append(c.name)
        return text, names

    # -- titles ---------------------------------------------------------------------------------
    def _ref(self, i: int, title: bool = True) -> str:
        seed, c = self.seeds[i], self.chars[i]
        if seed.name or seed.kind == "robot":
            return c.name
        word = seed.head.title() if title else seed.head
        return f"The {word}" if i == 0 else f"the {word}"

    def title(self) -> str:
        p = self.p
        if not p.readable:
            return _clip(p.logline.rstrip(".!?。！？"), 60)
        if not self.seeds:
            words = p.logline.rstrip(".!?").split()[:6]
            small = {"a", "an", "the", "of", "in", "on", "at", "to", "and", "or", "for", "by", "with"}
            return " ".join(w if k > 0 and w.lower() in small else w[:1].upper() + w[1:]
                            for k, w in enumerate(words))[:80] or "Untitled"
        if len(self.seeds) >= 2 and self.seeds[1].group == self.seeds[0].group and not self.seeds[0].name:
            words = [w for w in self.seeds[0].surface.split() if w.lower() not in DETERMINERS and w.lower() not in NUMBERS]
            return "The " + " ".join(w[:1].upper() + w[1:] for w in words)
        if len(self.seeds) >= 2:
            return f"{self._ref(0)} and {self._ref(1)}"
        a = self._ref(0)
        if self.category in ("seek", "carry", "make") and p.goal:
            goal = re.sub(r"^(his|her|their|its|a|an)\s", "the ", p.goal)
            return f"{a} and {goal.title().replace('The ', 'the ', 1)}"
        if self.category == "change":
            return f"{a}'s New Beginning"
        return f"{a}'s Journey"

    def overview(self) -> str:
        p = self.p
        if not p.readable:
            return _clip(f"A short film in five beats (setup, turning point, rising action, climax and resolution) "
                         f"telling the story: {p.logline}", 5000)
        names = [c.name for c in self.chars]
        a = names[0] if names else ""
        b = names[1] if len(names) > 1 else ""
        if p.together and b:
            a = f"{a}, with {b},"
        haz = p.setting.hazard[:1].lower() + p.setting.hazard[1:]
        where = _split_place(p.where)[1]
        summary = {
            "bond": f"{a} lives a quiet routine in {where} until {b} appears. Little by little the two grow close, "
                    f"and when {haz}, {a} risks everything to help. In the end they share a hard-won friendship.",
            "conflict": f"{a} and {b} collide in {where}. The contest escalates until {haz} and the final showdown "
                        f"decides it; afterwards, only respect is left.",
            "romance": f"{a} meets {b} in {where}. Their moments together grow warmer, a rift nearly parts them "
                       f"when {haz}, and love brings them back together.",
            "seek": f"{a} sets out through {where} in search of {p.goal or 'an answer'}. Clue by clue the search "
                    f"goes on, and when {haz}, {a} finally finds it.",
            "carry": f"{a} must carry {p.goal or 'a precious package'} across {where}. Obstacles pile up and {haz}, "
                     f"but {a} gets through and delivers it.",
            "make": f"{a} sets out to make {p.goal or 'something new'} in {where}. Failures come first; when "
                    f"{haz}, the work is put to the test and holds.",
            "journey": f"{a} leaves home and journeys through {where}. The way grows harder and {haz}, "
                       f"but {a} reaches the end of the road, changed.",
            "change": f"{a} lives a quiet life in {where} until something breaks the routine. After trying and "
                      f"failing, and when {haz}, {a} faces the fear and finds a new confidence.",
            "world": f"The story unfolds in {where}: a day that begins quietly, turns, builds to a dramatic climax "
                     f"when {haz}, and ends in calm.",
        }.get(self.category, "")
        style = f" Told in the style of {self.style}." if self.style else ""
        return _clip(_tidy(f"{p.logline.rstrip('.')}. {summary}{style}"), 5000)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _tidy(text: str) -> str:
    """Capitalise sentence starts and clean spacing."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;])", r"\1", text)
    parts = re.split(r"(?<=[.!?])\s+", text)
    out = []
    for part in parts:
        out.append(part[:1].upper() + part[1:] if part[:1].islower() else part)
    return " ".join(out)
