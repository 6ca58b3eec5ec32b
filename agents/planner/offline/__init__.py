"""The embedded planner: a deterministic, model-free script writer for any logline.

It reads the logline with small English heuristics (no model, no network), then writes a bible and
a five-beat script from a shot grammar. The same logline always gives the same plan (choices are
drawn from a random generator seeded by the logline's hash).

Reading the logline
    - characters: proper names (``Mia``, ``Captain Ahab``), role nouns with their modifiers
      (``a lonely lighthouse keeper``, ``her grandfather``), animals and creatures (``a stranded
      whale``, ``a tiny dragon``); at most four;
    - their relation, from the verb (``befriends`` → a bond story, ``races`` → a contest,
      ``falls in love`` → a romance, ``searches for``/``delivers``/``builds``/``crosses`` → a quest,
      ``learns``/``overcomes`` → a change story);
    - the setting, from a place phrase (``in a flooded Tokyo``) or any place word, else from the
      characters (a whale lives by the sea, an astronaut in space);
    - the goal, from the verb's object (``her lost kite``), and the adjectives (``lonely`` colours
      the mood, ``stranded`` is the situation the story starts from).
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
    scene in its own place. Within a scene the shot grammar is: an establishing wide shot (a cut),
    then a continuation of that same action (cut=false: it starts from the last frame), then a new
    angle on the next moment (a cut: close-up, reaction, two-shot...), its continuation, and so on.
    Every prompt is 3-4 sentences (action with characters, place and light, mood, camera) and
    carries each cast character's :meth:`~schemas.bible.Character.details` at the first mention.

Modules
    ``lexicon`` (word lists and data tables), ``settings`` (kinds of place), ``nouns`` (word classes
    and the characters' noun phrases), ``reading`` (the logline as a
    :class:`~agents.planner.offline.reading.Premise`), ``bible`` (inventing the characters),
    ``beats`` (the five beats, their moments and the shot grammar's words), ``writing`` (the script,
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
    LIGHTS,
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
    "ANIMAL_HERO", "BEAT_WEIGHT", "CAMERA_MOVES", "CARE", "CONFLICT_MOODS", "CUT_FRAMES", "FILLERS", "LIGHTS",
    "MOMENTS", "MOODS", "ROMANCE_MOODS", "SCENE_BEATS", "SEA_ANIMALS", "SETUP", "STATE_DEFAULT", "Moment",
    # the lexicon
    "ACCESSORIES", "AGE_ADJ", "AGES", "ANIMAL_ATTIRE", "ANIMAL_ROUTINES", "ANIMALS", "AUX", "BUILD", "CLOTHING",
    "COMMON_NOUNS", "CREATURES", "DEFAULT_ATTIRE", "DETERMINERS", "ELDERS", "FACES", "FEMALE", "FUNCTION",
    "GENDER_NOUN", "HAIR", "IRREGULAR_PLURALS", "MACHINES", "MALE", "NAMES_F", "NAMES_M", "NOT_PERSON_ER",
    "NOT_PLACES", "NUMBERS", "PERSON", "RELATIONS", "ROBOT_LOOK", "ROBOT_NAMES", "ROBOTS", "ROLE_AGE",
    "ROLE_ATTIRE", "SIZE_COLOR_ADJ", "STATE_ADJ", "TIME_WORDS", "TITLES", "TRAIT_ADJ", "YOUNG_ANIMALS",
]
