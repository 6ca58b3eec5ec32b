"""The embedded planner: a deterministic, model-free script writer for any logline.

It reads the logline with small English heuristics (no model, no network), then writes a bible and
a five-beat script from a shot grammar. The same logline always gives the same plan (choices are
drawn from a random generator seeded by the logline's hash).

Reading the logline
    - its verbs first (``syntax``: a word that can be a verb, by ``lemminflect``'s lexicon, standing
      where a logline's verb stands), so ``a dragon guards its egg`` has a dragon and no guard;
    - characters: proper names (``Mia``, ``Captain Ahab``), role nouns with their modifiers
      (``a lonely lighthouse keeper``, ``her grandfather``), animals and creatures (``a stranded
      whale``, ``a tiny dragon``), groups (``a crew of thieves``, ``a wolf pack``), young animals
      of a species (``a fox cub`` is a young fox, never a bear), roles of animals and robots (``an
      owl detective``, ``an android nurse``); the family of an animal hero is of its kind (``its
      mother`` is a fox); names after a place preposition are places (``in Las Vegas``); at most four;
    - their relation, from the verb (``befriends`` → a bond story, ``races`` → a contest,
      ``falls in love`` → a romance, ``searches for``/``delivers``/``builds``/``crosses`` → a quest,
      ``learns``/``overcomes`` → a change story);
    - the setting, from a place phrase (``in a flooded Tokyo``) or any place word, else from the
      characters (a whale lives by the sea, an astronaut in space);
    - the goal, from the object of a purpose clause or the verb (``to steal a diamond``, ``her lost
      kite``), or the destination (``to the sea``), and the adjectives (``lonely`` colours the mood,
      ``stranded`` is the situation the story starts from);
    - the genre: heist, mystery, chase, romance, nature (an animal cast that hunts, migrates,
      forages), else the relation category; the time of day (``at dawn``, ``under the moonlight``,
      ``a night train``), a deadline (``before nightfall``), the obstacle (``during a drought``,
      ``while her oxygen runs low``), a pursuer (``races a tornado``), a vehicle, a skill learnt, a
      season, an occasion (``for the village festival``).
    A logline it can't read (another language, emoji, no character) keeps its own words: every
    prompt then carries the logline as the subject, and the script is still valid.

Naming (documented choice)
    A person from a role noun gets a given name drawn deterministically from a pool (``Elias``),
    with the role as aliases (``the keeper``, ``the lighthouse keeper``), because names keep two
    people apart in prompts; a name in the logline is kept. Animals and creatures keep their role
    noun (``the whale``), which a video model understands better than an invented pet name, unless
    the logline names them (``a dog named Biscuit``).

Writing the film
    Five beats (setup, inciting moment, rising action, climax, resolution) over 3-5 scenes, each
    scene in its own place, with the moments of the genre (a heist plans, breaks in, cracks the vault,
    trips the alarm and makes its getaway; a mystery finds clues, questions, confronts and reveals; a
    chase flees, hides and escapes...). Every scene has one time of day on a timeline that only moves
    forward (the logline's time, or a deadline that falls at the climax), and every shot of the scene
    carries that scene's light, so a continuation never jumps from sunset to dawn. The deadline and
    the obstacle are woven into the climax and the rising action. Within a scene the shot grammar is:
    an establishing wide shot (a cut),
    then a continuation of that same action (cut=false: it starts from the last frame), then a new
    angle on the next moment (a cut: close-up, reaction, two-shot...), its continuation, and so on.
    Every prompt is 3-4 sentences (action with characters, place and light, mood, camera) and
    carries each cast character's :meth:`~schemas.bible.Character.details` at the first mention.

Modules
    ``lexicon`` (word lists and data tables), ``settings`` (kinds of place), ``nouns`` (word classes
    and the characters' noun phrases), ``reading`` (the logline as a
    :class:`~agents.planner.offline.reading.Premise`), ``bible`` (inventing the characters),
    ``syntax`` (verbs, time of day, obstacle, genre), ``beats`` (the five beats, their moments per
    genre, the lights per time of day and the shot grammar's words), ``writing`` (the script,
    shot by shot), ``planner`` (:class:`~agents.planner.offline.planner.OfflinePlanner`).
"""

from agents.planner.offline.beats import (
    ANIMAL_HERO,
    BEAT_WEIGHT,
    CAMERA_MOVES,
    CARE,
    CONFLICT_MOODS,
    CUT_FRAMES,
    FILLERS,
    LIGHT_BY_TIME,
    MOMENTS,
    MOODS,
    ROMANCE_MOODS,
    SCENE_BEATS,
    SEA_ANIMALS,
    SETUP,
    STATE_DEFAULT,
    Moment,
)
from agents.planner.offline.lexicon import (
    ACCESSORIES,
    AGE_ADJ,
    AGES,
    ANIMAL_ATTIRE,
    ANIMAL_ROUTINES,
    ANIMALS,
    AUX,
    BUILD,
    CLOTHING,
    COMMON_NOUNS,
    CREATURES,
    DEFAULT_ATTIRE,
    DETERMINERS,
    ELDERS,
    FACES,
    FEMALE,
    FUNCTION,
    GENDER_NOUN,
    HAIR,
    IRREGULAR_PLURALS,
    MACHINES,
    MALE,
    NAMES_F,
    NAMES_M,
    NOT_PERSON_ER,
    NOT_PLACES,
    NUMBERS,
    PERSON,
    RELATIONS,
    ROBOT_LOOK,
    ROBOT_NAMES,
    ROBOTS,
    ROLE_AGE,
    ROLE_ATTIRE,
    SIZE_COLOR_ADJ,
    STATE_ADJ,
    TIME_WORDS,
    TITLES,
    TRAIT_ADJ,
    YOUNG_ANIMALS,
)
from agents.planner.offline.nouns import MAX_CHARACTERS, Seed
from agents.planner.offline.planner import DEFAULT_SHOTS, OfflinePlanner
from agents.planner.offline.reading import RECIPROCAL, Premise, goal_np_is_place, read_logline
from agents.planner.offline.settings import DEFAULT_SETTING, SETTINGS, UNREAD_SETTING, Setting

__all__ = [
    # the planner
    "DEFAULT_SHOTS", "OfflinePlanner",
    # reading the logline
    "MAX_CHARACTERS", "RECIPROCAL", "Premise", "Seed", "goal_np_is_place", "read_logline",
    # places
    "DEFAULT_SETTING", "SETTINGS", "UNREAD_SETTING", "Setting",
    # beats and moments
    "ANIMAL_HERO", "BEAT_WEIGHT", "CAMERA_MOVES", "CARE", "CONFLICT_MOODS", "CUT_FRAMES", "FILLERS", "LIGHT_BY_TIME",
    "MOMENTS", "MOODS", "ROMANCE_MOODS", "SCENE_BEATS", "SEA_ANIMALS", "SETUP", "STATE_DEFAULT", "Moment",
    # the lexicon
    "ACCESSORIES", "AGE_ADJ", "AGES", "ANIMAL_ATTIRE", "ANIMAL_ROUTINES", "ANIMALS", "AUX", "BUILD", "CLOTHING",
    "COMMON_NOUNS", "CREATURES", "DEFAULT_ATTIRE", "DETERMINERS", "ELDERS", "FACES", "FEMALE", "FUNCTION",
    "GENDER_NOUN", "HAIR", "IRREGULAR_PLURALS", "MACHINES", "MALE", "NAMES_F", "NAMES_M", "NOT_PERSON_ER",
    "NOT_PLACES", "NUMBERS", "PERSON", "RELATIONS", "ROBOT_LOOK", "ROBOT_NAMES", "ROBOTS", "ROLE_AGE",
    "ROLE_ATTIRE", "SIZE_COLOR_ADJ", "STATE_ADJ", "TIME_WORDS", "TITLES", "TRAIT_ADJ", "YOUNG_ANIMALS",
]
