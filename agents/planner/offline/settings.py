"""Places: the kinds of setting a story can happen in, and the ``prep|phrase`` form of a place.

A :class:`Setting` is chosen from the logline's words (``lighthouse``, ``desert``, ``Tokyo``...);
it gives the establishing view, sub-locations for later scenes, routines, the climax's hazard and
light, and ambient details. Places travel as ``prep|phrase`` strings (``at|the lighthouse``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.planner.offline.lexicon import _W


@dataclass(frozen=True)
class Setting:
    """A kind of place: its words, its sub-locations and what can go wrong there."""

    key: str
    words: frozenset[str]
    where: str
    """The full description, with its preposition: ``at|a lonely lighthouse on a rocky coast``."""
    short: str
    """How actions name the place in the first scene: ``at|the lighthouse``."""
    places: tuple[str, ...]
    """Sub-locations for later scenes, each ``preposition|phrase``."""
    routines: tuple[str, ...]
    hazard: str
    hazard_short: str
    climax_light: str
    ambient: tuple[str, ...]


def _setting(key, words, where, short, places, routines, hazard, hazard_short, light, ambient) -> Setting:
    return Setting(key, _W(words), where, short, tuple(places), tuple(routines), hazard, hazard_short, light,
                   tuple(ambient))


SETTINGS = (
    _setting("lighthouse", "lighthouse keeper lamp beacon",
             "at|a lonely lighthouse on a rocky, wind-swept coast", "at|the lighthouse",
             ["on|the rocky shore below the lighthouse", "in|the lamp room at the top of the lighthouse",
              "in|a shallow cove beside the lighthouse", "on|the worn stone steps of the lighthouse"],
             ["polishes the great brass lamp", "climbs the spiral stairs with a lantern",
              "writes in a weathered logbook by the window"],
             "A violent storm rolls in off the sea, waves exploding against the rocks",
             "the storm lashes the coast", "slate-gray storm light",
             ["gulls wheel over the gray water", "foam hisses between the rocks"]),
    _setting("coast", "coast sea beach shore ocean island harbor harbour pier bay cove cliff cliffs "
             "seaside whale dolphin seal fisherman sailor surfer boat ship port tide waves",
             "on|a quiet stretch of rocky coast", "on|the shore",
             ["on|a pebbled beach at low tide", "at|the end of a weathered wooden pier", "in|a shallow cove",
              "on|a cliff path high above the sea"],
             ["mends a fishing net on an upturned boat", "walks the tide line collecting driftwood",
              "hauls a small rowing boat up the beach"],
             "A storm surges in, the tide racing up the beach", "the waves surge higher",
             "slate-gray storm light",
             ["gulls cry over the water", "waves curl and break on the shore"]),
    _setting("underwater", "underwater reef coral seabed deep submarine mermaid octopus kraken",
             "on|a sunlit coral reef beneath the sea", "on|the reef",
             ["in|a bright coral garden", "by|a sunken shipwreck covered in anemones", "in|a kelp forest swaying in the current",
              "at|the dark edge of a deep trench"],
             ["drifts slowly over the coral", "tidies shells outside a small cave"],
             "A dark current sweeps through, churning up sand", "the current churns the water",
             "murky green light",
             ["shafts of sunlight ripple through the water", "tiny silver fish flicker past"]),
    _setting("space", "space moon mars planet spaceship spacecraft rocket station orbit galaxy star stars "
             "asteroid astronaut alien cosmos universe satellite",
             "aboard|a small research station orbiting a blue planet", "aboard|the station",
             ["in|the cramped cockpit of a small spacecraft", "on|the gray, cratered surface of the Moon",
              "at|an observation window looking down on the planet", "in|a long white corridor of the station"],
             ["checks the glowing instrument panels", "floats through the cabin logging readings",
              "tends a tiny garden of seedlings under grow lights"],
             "Alarms blare as a shower of debris hammers the hull", "warning lights flash red",
             "flashing red alarm light",
             ["the planet glows blue beyond the glass", "stars drift slowly past the window"]),
    _setting("city", "city town street streets rooftop rooftops subway metro downtown tokyo paris london "
             "york berlin rome cairo mumbai shanghai seoul neon alley apartment traffic taxi detective",
             "in|a rain-washed city of narrow streets", "in|the city",
             ["on|a rain-slick street under neon signs", "on|a rooftop high above the city lights",
              "on|a crowded subway platform", "in|a small corner café with fogged windows"],
             ["hurries along the crowded sidewalk", "sips coffee by a rain-streaked window",
              "feeds the pigeons on a park bench"],
             "A sudden downpour floods the street as traffic blares", "rain hammers the street",
             "flickering neon light",
             ["neon reflections shimmer in the puddles", "traffic hums in the distance"]),
    _setting("forest", "forest woods wood jungle grove clearing tree trees treehouse fox wolf deer owl bear "
             "woodland rainforest pine ranger hunter woodcutter lumberjack elf spirit",
             "in|an old forest of tall pines and mossy stones", "in|the forest",
             ["in|a sun-dappled clearing", "on|a narrow trail between mossy trunks", "by|a rushing stream with stepping stones",
              "in|the hollow beneath an ancient oak"],
             ["gathers firewood along the trail", "sketches the trees in a small notebook",
              "follows animal tracks in the soft earth"],
             "A thunderstorm breaks over the forest and a great branch crashes down",
             "thunder rolls through the trees", "flickering lightning",
             ["birdsong echoes between the trees", "pollen drifts through shafts of light"]),
    _setting("desert", "desert dune dunes sand sahara oasis canyon camel cactus mesa",
             "in|a vast desert of red dunes", "in|the desert",
             ["on|the crest of a towering dune", "at|a small palm-fringed oasis", "in|a narrow red-rock canyon",
              "at|an abandoned adobe outpost"],
             ["checks a brass compass in the heat", "fills water skins at a well"],
             "A wall of sand sweeps across the desert in a roaring storm", "the sandstorm roars",
             "brown, sand-choked light",
             ["heat shimmers over the sand", "wind lifts ribbons of sand from the dunes"]),
    _setting("snow", "snow snowy arctic antarctic ice icy glacier mountain mountains peak summit winter "
             "frozen tundra penguin yeti polar igloo ski climber mountaineer avalanche himalayan himalayas alps "
             "everest leopard",
             "in|a snowbound mountain valley", "in|the valley",
             ["on|a snowfield glittering under a pale sky", "at|a small wooden cabin with a smoking chimney",
              "on|a narrow ledge high on the mountain", "by|a frozen lake ringed by pines"],
             ["chops firewood outside the cabin", "shovels snow from the cabin door"],
             "An avalanche thunders down the slope in a white wave", "the snow roars down the slope",
             "blinding white light",
             ["snowflakes drift in the still air", "breath clouds in the freezing air"]),
    _setting("village", "village farm farmer countryside barn field fields meadow orchard vineyard "
             "ranch cottage hill hills valley cow pig sheep horse goat chicken scarecrow harvest",
             "in|a small farming village among rolling hills", "in|the village",
             ["in|a golden wheat field", "in|a weathered red barn", "in|a cobbled village square with a well",
              "in|a hilltop meadow above the village"],
             ["scatters grain for the hens", "carries a pail of milk across the yard",
              "mends a fence at the edge of the field"],
             "A storm tears across the fields, bending the wheat flat", "wind flattens the wheat",
             "bruised purple storm light",
             ["wheat sways in the breeze", "a rooster crows in the distance"]),
    _setting("kitchen", "kitchen restaurant bakery cafe café diner bistro chef cook baker cake bread "
             "pastry soup recipe dinner feast",
             "in|a small, bustling restaurant kitchen", "in|the kitchen",
             ["on|the steamy kitchen line", "at|a flour-dusted bakery counter", "in|the quiet dining room after closing",
              "at|a busy market stall piled with produce"],
             ["kneads dough on a flour-dusted counter", "chops vegetables with quick, precise strokes",
              "tastes a simmering pot of soup"],
             "A pan erupts in flame as orders pile up and the kitchen descends into chaos",
             "the kitchen descends into chaos", "harsh orange firelight",
             ["steam curls from the pots", "copper pans glint under warm lamps"]),
    _setting("school", "school classroom library university campus college student teacher professor "
             "exam class homework lesson dorm",
             "at|an old brick school on a quiet street", "at|the school",
             ["in|a sunlit classroom with rows of desks", "in|a hushed library of tall shelves",
              "in|the busy school corridor", "in|the school's rooftop garden"],
             ["arranges books on a crowded desk", "writes neatly in a notebook"],
             "The lights fail and rain lashes the windows on the day of the big event",
             "rain lashes the windows", "flickering emergency light",
             ["dust floats in the sunbeams", "pages rustle softly"]),
    _setting("castle", "castle kingdom palace throne knight king queen prince princess dragon tower "
             "realm medieval court dungeon wizard witch sorcerer",
             "in|a stone castle above a misty valley", "in|the castle",
             ["in|the great hall lit by torches", "in|the castle courtyard", "on|a winding tower stair",
              "on|the battlements above the valley"],
             ["polishes a sword in the armory", "walks the battlements"],
             "Thunder cracks over the castle as a fire breaks out in the great hall",
             "fire roars through the hall", "flickering firelight",
             ["banners flutter in the wind", "torches crackle along the walls"]),
    _setting("workshop", "workshop lab laboratory factory garage junkyard scrapyard inventor robot "
             "android cyborg machine invention engineer mechanic",
             "in|a cluttered workshop full of half-built machines", "in|the workshop",
             ["at|the cluttered workbench under a hanging lamp", "in|a junkyard of rusting machines",
              "at|the workshop's open garage door", "on|a rooftop test pad"],
             ["solders a tiny circuit under a magnifying lamp", "sorts gears and springs into jars"],
             "Sparks fly as the machinery overloads and the lights flicker out",
             "sparks shower from the machines", "flickering blue sparklight",
             ["gears tick on the shelves", "a radio hums softly"]),
    _setting("home", "home house apartment attic room bedroom garden backyard porch family kitchen "
             "grandmother grandfather grandma grandpa mother father",
             "in|a small, cozy house at the edge of town", "in|the house",
             ["in|a cozy living room with a worn armchair", "in|the sunny back garden", "in|a dusty attic full of boxes",
              "on|the front porch at the end of the street"],
             ["waters the plants on the windowsill", "sorts old photographs at the kitchen table",
              "sweeps the front porch"],
             "A storm knocks the power out and rain pours through the roof", "the storm rattles the windows",
             "dim, lightning-streaked lamplight",
             ["a clock ticks on the wall", "curtains stir in the breeze"]),
    _setting("river", "river lake pond swamp marsh stream waterfall canal bridge riverbank otter beaver frog",
             "by|a slow river winding between willows", "by|the river",
             ["on|a muddy riverbank under willows", "on|an old stone bridge", "by|a reed-fringed lake",
              "at|the foot of a roaring waterfall"],
             ["paddles a small wooden canoe", "skims stones across the water"],
             "The river floods after heavy rain, brown water surging over the banks",
             "the floodwater rises", "heavy gray storm light",
             ["dragonflies skim the water", "willow branches trail in the current"]),
    _setting("railway", "train railway station platform railroad locomotive tracks carriage",
             "on|an old railway line crossing open country", "at|the station",
             ["on|a small country station platform", "in|the swaying corridor of a sleeper train",
              "in|the dining car with white tablecloths", "beside|the tracks stretching into the distance"],
             ["checks the timetable on the platform", "gazes out of the train window"],
             "The train lurches to a stop in a storm as the lights go out", "the train shudders",
             "flickering, rain-streaked light",
             ["steam drifts along the platform", "the rails click softly"]),
    _setting("circus", "circus carnival fair funfair clown acrobat juggler magician tent ringmaster",
             "at|a traveling circus camped at the edge of town", "at|the circus",
             ["in|the big striped tent", "on|the lantern-lit midway", "among|the caravans behind the tent",
              "in|the center ring under the spotlights"],
             ["practices juggling behind the caravans", "paints a faded sign by lantern light"],
             "The wind tears at the big top as a pole snaps and the crowd panics",
             "the big top sways", "swinging spotlight glare",
             ["strings of lights sway overhead", "music drifts from the tent"]),
    _setting("battlefield", "war battlefield trench trenches army soldier front battle siege bunker",
             "in|a war-torn landscape of ruined farmland", "on|the front",
             ["in|a muddy trench under a gray sky", "in|a ruined farmhouse", "in|a field of shell craters and barbed wire",
              "in|a quiet field hospital tent"],
             ["cleans a rifle in the trench", "writes a letter by candlelight"],
             "Shells whistle overhead and the ground shakes", "explosions light the sky",
             "smoky, fire-lit haze",
             ["smoke drifts across the field", "distant guns rumble"]),
    _setting("casino", "casino casinos vegas las poker roulette jackpot slot slots croupier",
             "in|a glittering casino on the Las Vegas Strip", "in|the casino",
             ["on|the crowded casino floor among the roulette tables", "in|the casino's security room full of monitors",
              "in|the steel vault beneath the casino", "in|the parking garage behind the casino"],
             ["shuffles a deck of cards at a back table", "studies the casino floor from the bar"],
             "Alarms wail and guards flood the casino floor", "the alarms wail", "flashing red alarm light",
             ["slot machines chime and flash", "chips clatter across the felt"]),
    _setting("museum", "museum museums gallery exhibit exhibition diamond painting paintings statue sculpture "
             "artifact artifacts jewel jewels",
             "in|a grand old museum of marble halls", "in|the museum",
             ["in|a marble hall lined with glass cases", "in|the museum's dim basement archive",
              "on|the museum's glass roof", "in|a quiet gallery of old paintings"],
             ["walks slowly past the glass cases", "sketches a statue in a small notebook"],
             "Alarms ring through the marble halls as steel shutters slam down", "the shutters slam down",
             "flashing red alarm light",
             ["footsteps echo on the marble", "spotlights glow on the exhibits"]),
    _setting("savanna", "savanna savannah africa african acacia elephant lion giraffe zebra rhino cheetah "
             "drought watering grassland plains",
             "on|the wide golden savanna under a huge sky", "on|the savanna",
             ["by|a shrinking watering hole", "in|the shade of a lone acacia tree", "on|the cracked, dry plains",
              "at|the edge of a green river valley"],
             ["grazes slowly in the tall grass", "rests in the shade of an acacia"],
             "A dust storm sweeps across the plains", "dust whirls across the plains", "hazy, dust-choked light",
             ["heat shimmers over the grass", "a herd drifts across the horizon"]),
    _setting("hospital", "hospital ward clinic patient patients nurse doctor surgeon infirmary",
             "in|a quiet hospital ward with tall windows", "in|the hospital",
             ["in|a patient's room with a single bed", "in|the long white corridor of the ward",
              "in|the hospital's small rooftop garden", "at|the nurses' station"],
             ["checks the charts at the nurses' station", "arranges fresh flowers by a bedside"],
             "The power fails and the ward plunges into emergency light", "the monitors beep in alarm",
             "flickering emergency light",
             ["monitors beep softly", "curtains stir by the open window"]),
    _setting("park", "park parks picnic playground bench fountain pond duck ducks squirrel squirrels",
             "in|a leafy city park", "in|the park",
             ["on|a picnic blanket under a wide oak", "by|the park's duck pond", "on|a winding path between flower beds",
              "at|the old stone fountain"],
             ["sits on a bench feeding the ducks", "strolls along the winding path"],
             "A sudden downpour sends everyone running for cover", "rain pours down on the park",
             "dark, rain-streaked light",
             ["children laugh on the swings", "leaves rustle in the breeze"]),
)
DEFAULT_SETTING = _setting(
    "town", "", "in|a quiet small town", "in|the town",
    ["in|a sunlit town square", "on|a narrow cobbled street", "in|a small kitchen with a checkered tablecloth",
     "on|a grassy hill above the town"],
    ["sweeps the front step", "walks to the corner bakery", "reads the paper on a bench"],
    "A sudden storm sweeps over the town, sending everyone running", "rain sweeps the streets",
    "dark, wind-torn storm light", ["a church bell rings in the distance", "leaves skitter across the cobbles"])
UNREAD_SETTING = _setting(
    "story", "", "in|the world of the story", "in|the world of the story", ["in|the world of the story"],
    [""], "The most dramatic moment of the story erupts", "the story reaches its peak",
    "dramatic, high-contrast light", [""])


_LOCATIVE = {"across": "in", "through": "in", "along": "on", "around": "in", "over": "above",
             "throughout": "in", "into": "in", "onto": "on"}
_WATERY = re.compile(r"\b(shore|cove|beach|pier|water|reef|coral|shipwreck|kelp|trench|river|lake|shallows|"
                     r"riverbank|waterfall|harbou?r|tide|surf|pond|canal|lagoon)\b", re.IGNORECASE)


def _where_phrase(place: str) -> str:
    """``in a flooded Tokyo`` → ``in|flooded Tokyo``; ``across a war-torn city`` → ``in|the war-torn city``."""
    prep, _, rest = place.partition(" ")
    prep = _LOCATIVE.get(prep, prep)
    words = rest.split()
    if words and words[0].lower() in ("a", "an"):
        tail = " ".join(words[1:])
        rest = tail if any(w[:1].isupper() for w in words[1:]) else f"the {tail}"
    elif words and words[0].lower() in ("his", "her", "their", "its", "my", "our", "your"):
        rest = "the " + " ".join(words[1:])
    return f"{prep}|{rest}"


def _split_place(place: str) -> tuple[str, str]:
    prep, sep, phrase = place.partition("|")
    return (prep, phrase) if sep else ("in", place)
