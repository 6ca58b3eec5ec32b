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
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass, field

from agents.planner.base import PlannerError
from agents.planner.logline import check_shots, clean_logline, clean_style
from schemas.bible import Bible, Character
from schemas.plan import Plan
from schemas.script import Scene, StoryScript, make_shot_id

DEFAULT_SHOTS = 10
MAX_CHARACTERS = 4

# ================================================================================================
# Lexicon
# ================================================================================================

_W = lambda s: frozenset(s.split())  # noqa: E731

DETERMINERS = _W("a an the his her their its my our your one this that every some another")
NUMBERS = {"two": 2, "three": 3, "four": 4, "twin": 2, "twins": 2, "couple": 2, "pair": 2}
FUNCTION = _W(
    "a an the and or but of to in on at by for with from into onto over under as is are was were be "
    "been who whom whose that which what when where while before after until because so than then "
    "his her their its my our your he she they it them him we us i you this these those must can "
    "could will would should may might not no never only just also even still very too there here "
    "has have had does do did about through across against between among around behind beyond "
    "during inside outside near toward towards upon within without up down out off away back"
)
FEMALE = _W(
    "woman girl mother mom mum grandmother grandma granny queen princess sister daughter wife witch "
    "actress waitress lady aunt niece nun bride heroine widow ballerina goddess empress duchess "
    "stepmother girlfriend matriarch schoolgirl maid sorceress mermaid businesswoman policewoman"
)
MALE = _W(
    "man boy father dad grandfather grandpa king prince brother son husband actor waiter gentleman "
    "uncle nephew monk groom hero widower emperor duke stepfather boyfriend patriarch schoolboy "
    "fisherman postman policeman fireman businessman sailorman caveman"
)
PERSON = _W(
    "keeper person child kid baby toddler teenager teen student doctor nurse teacher professor "
    "scientist artist painter musician pianist violinist guitarist drummer singer dancer writer poet "
    "chef cook baker detective inspector soldier pilot farmer sailor captain knight wizard mage "
    "samurai ninja warrior astronaut explorer adventurer engineer programmer inventor gardener "
    "librarian photographer courier messenger mailman thief burglar spy agent officer cop sheriff "
    "cowboy pirate hunter ranger fisher miner climber mountaineer diver surfer skater runner "
    "boxer wrestler athlete player coach driver mechanic carpenter blacksmith tailor barber "
    "shepherd beekeeper zookeeper janitor clerk waiter waitress barista bartender florist "
    "magician clown juggler acrobat puppeteer orphan refugee immigrant traveler traveller tourist "
    "stranger neighbor neighbour friend friends rival villain nomad hermit monk priest nun "
    "veteran widow retiree grandmother grandfather scholar archaeologist paleontologist "
    "astronomer biologist chemist physicist surgeon paramedic firefighter lifeguard mayor "
    "president senator lawyer judge journalist reporter vlogger influencer gamer hacker coder "
    "designer architect sculptor potter weaver dj rapper composer conductor bride groom "
    "human villager townsfolk elder youngster newcomer loner outcast prodigy genius "
    "apprentice intern assistant butler maid nanny babysitter caretaker guard watchman "
    "lumberjack woodcutter trucker cabbie sommelier cashier vendor merchant peddler beggar king "
    "queen prince princess emperor empress pharaoh sultan chieftain warlord general admiral "
    "commander lieutenant sergeant private recruit cadet medic rookie legend superhero "
    "grandma grandpa mom dad mother father sister brother son daughter aunt uncle cousin twin twins "
    "husband wife boyfriend girlfriend fiance fiancee widower spouse partner"
)
ROBOTS = _W("robot android cyborg automaton droid machine bot")
CREATURES = {
    "dragon": "a small emerald-green dragon with copper-tipped wings, golden eyes and a curling smoky breath",
    "unicorn": "a white unicorn with a pearly spiral horn and a flowing silver mane",
    "phoenix": "a phoenix with flame-red and gold feathers that glow at the tips",
    "griffin": "a griffin with an eagle's tawny head and wings and a lion's sandy body",
    "monster": "a big, shaggy purple monster with round yellow eyes and tiny horns",
    "alien": "a small pale-green alien with large glossy black eyes and slender three-fingered hands",
    "ghost": "a translucent, softly glowing ghost with a wistful, pale face",
    "giant": "a towering, gentle giant with mossy shoulders and a craggy, kind face",
    "troll": "a hulking gray troll with a bulbous nose and moss growing on its back",
    "goblin": "a wiry green goblin with pointed ears and a crooked grin",
    "fairy": "a tiny fairy with shimmering dragonfly wings and a soft golden glow",
    "elf": "a slender elf with pointed ears and long braided hair",
    "yeti": "a huge white-furred yeti with a gentle, flat face and pale blue eyes",
    "dinosaur": "a young green dinosaur with a long tail, stubby arms and bright curious eyes",
    "vampire": "a pale, gaunt vampire with slicked-back black hair and sharp features",
    "zombie": "a shambling zombie with gray skin and ragged hair",
    "witch": "",
    "snowman": "a lopsided snowman with coal eyes, a carrot nose and twig arms",
    "scarecrow": "a straw-stuffed scarecrow with a stitched burlap face",
    "mermaid": "a mermaid with long sea-green hair and a shimmering teal tail",
    "werewolf": "a hulking werewolf with bristling gray fur and yellow eyes",
    "genie": "a blue-skinned genie with a curling topknot and a swirling smoky lower body",
    "golem": "a stone golem of rough gray boulders with faintly glowing runes",
    "kraken": "a vast dark-red kraken with enormous coiling tentacles",
    "spirit": "a softly glowing forest spirit shaped like a small white deer",
}
ANIMALS = {
    "whale": "a huge humpback whale with slate-gray skin, white-speckled flippers and a barnacled jaw",
    "dolphin": "a sleek gray bottlenose dolphin with a nicked dorsal fin",
    "shark": "a gray reef shark with a pale belly and a scarred snout",
    "seal": "a plump gray harbor seal with dark spots and long whiskers",
    "otter": "a sleek brown sea otter with a pale whiskered face",
    "octopus": "an orange octopus with curling, speckled tentacles",
    "turtle": "an old green sea turtle with a mottled, barnacled shell",
    "penguin": "a small emperor penguin with a black back, white belly and a yellow neck patch",
    "dog": "a scruffy golden terrier mix with one floppy ear and bright brown eyes",
    "puppy": "a clumsy golden puppy with oversized paws and one floppy ear",
    "cat": "a fluffy orange tabby cat with white paws and green eyes",
    "kitten": "a tiny gray kitten with white socks and big blue eyes",
    "fox": "a slender red fox with a white-tipped tail and amber eyes",
    "wolf": "a large gray wolf with a thick silver-tipped coat and pale yellow eyes",
    "bear": "a big brown bear with a shaggy coat and a pale scar over one eye",
    "owl": "a snowy white owl with black-flecked feathers and round golden eyes",
    "crow": "a glossy black crow with a sharp beak and a clever tilt of the head",
    "raven": "a large glossy raven with blue-black feathers",
    "bird": "a small robin with a bright orange-red breast and brown wings",
    "robin": "a small robin with a bright orange-red breast and brown wings",
    "sparrow": "a small brown sparrow with a speckled chest",
    "parrot": "a bright green parrot with a red crown and yellow-tipped wings",
    "eagle": "a bald eagle with a white head, dark brown wings and a hooked yellow beak",
    "pigeon": "a plump gray pigeon with an iridescent green neck",
    "duck": "a white duck with an orange bill and a slightly ruffled tail",
    "chicken": "a speckled brown hen with a red comb",
    "horse": "a chestnut horse with a white blaze and a long braided mane",
    "pony": "a small dappled-gray pony with a thick shaggy mane",
    "donkey": "a gray donkey with long soft ears and a pale muzzle",
    "cow": "a black-and-white dairy cow with a brass bell on a leather strap",
    "pig": "a small pink pig with a curly tail and floppy ears",
    "goat": "a white mountain goat with curved horns and a tufted beard",
    "sheep": "a fluffy white sheep with a black face",
    "deer": "a young red deer with a dappled coat and large dark eyes",
    "rabbit": "a soft brown rabbit with long ears and a white cotton tail",
    "bunny": "a soft brown bunny with long ears and a white cotton tail",
    "mouse": "a tiny brown mouse with round pink ears and a long tail",
    "rat": "a sleek gray rat with bright black eyes",
    "squirrel": "a red squirrel with tufted ears and a bushy tail",
    "raccoon": "a chubby raccoon with a black mask and a ringed tail",
    "hedgehog": "a small hedgehog with brown-tipped spines and a pointed nose",
    "frog": "a bright green tree frog with big orange eyes",
    "monkey": "a small brown capuchin monkey with a pale face and a long curling tail",
    "gorilla": "a massive silverback gorilla with a gray saddle of fur",
    "elephant": "a young gray elephant with big flapping ears and a curious trunk",
    "lion": "a golden lion with a thick dark mane",
    "tiger": "a powerful orange tiger with bold black stripes",
    "panda": "a round giant panda with black eye patches and fluffy white fur",
    "koala": "a sleepy gray koala with fluffy round ears",
    "giraffe": "a tall giraffe with a patchwork coat and a long neck",
    "camel": "a tall, shaggy camel with one hump and long eyelashes",
    "snake": "a long green snake with a diamond pattern down its back",
    "lizard": "a small emerald lizard with a curling tail",
    "bee": "a plump fuzzy bumblebee with yellow and black stripes",
    "butterfly": "a butterfly with large blue iridescent wings",
    "spider": "a small black spider with delicate striped legs",
    "ant": "a tiny red ant",
    "snail": "a small snail with a glossy spiral shell",
    "crab": "a small red crab with one oversized claw",
    "fish": "a small orange clownfish with white stripes",
    "goldfish": "a round golden goldfish with a flowing tail",
    "polar bear": "a big polar bear with creamy white fur and a black nose",
    "bat": "a small brown bat with leathery wings and large ears",
    "beaver": "a stout brown beaver with a flat tail and orange front teeth",
    "moose": "a huge brown moose with wide, flat antlers",
    "llama": "a fluffy cream-colored llama with long curved ears",
}
YOUNG_ANIMALS = {"puppy": "dog", "kitten": "cat", "cub": "bear", "calf": "cow", "foal": "horse",
                 "chick": "chicken", "duckling": "duck", "piglet": "pig", "lamb": "sheep",
                 "fawn": "deer", "joey": "kangaroo", "tadpole": "frog", "bunny": "rabbit"}
ANIMAL_ATTIRE = {"dog": "a red collar with a brass tag", "puppy": "a red collar with a brass tag",
                 "cat": "a blue collar with a tiny silver bell", "kitten": "a blue collar with a tiny silver bell",
                 "horse": "a worn leather saddle and bridle", "pony": "a woven red blanket"}
IRREGULAR_PLURALS = {"men": "man", "women": "woman", "children": "child", "people": "person",
                     "wolves": "wolf", "mice": "mouse", "geese": "goose", "elves": "elf",
                     "dwarves": "dwarf", "thieves": "thief", "fish": "fish", "sheep": "sheep",
                     "deer": "deer", "twins": "twin", "kids": "kid", "friends": "friend"}
CLOTHING = _W(
    "coat dress suit hoodie shirt t-shirt jacket robe robes uniform sweater hat scarf gown armor armour "
    "apron overalls jeans cloak kimono vest skirt boots spacesuit cap helmet glasses sunglasses blouse "
    "cardigan raincoat trenchcoat tuxedo pajamas shorts sneakers shoes gloves tie crown veil mask "
    "sweatshirt tunic sari hanfu sandals cape parka poncho"
)
NOT_PLACES = _W(
    "storm rain fog wind snowstorm blizzard love trouble danger time secret hope fear tears silence "
    "peace public debt charge search pursuit order style vain return exchange spite fact general "
    "mind life death sleep dreams dream disguise hiding exile silence despair vain"
)
TIME_WORDS = _W(
    "day night morning evening afternoon summer winter autumn fall spring christmas eve year week hour "
    "dawn dusk weekend holiday birthday midnight noon moment minute lifetime century decade future past"
)
NOT_PERSON_ER = _W(
    "under over after other never ever together whether rather water river tower corner summer "
    "winter letter paper silver shoulder dinner thunder weather flower border center centre danger "
    "computer power number answer mirror door floor color colour error interior horror armor harbor "
    "harbour labor labour favor favour flavor flavour anchor elevator motor sensor tractor meteor "
    "monster matter chapter character corridor paper laser poster sweater sister mister butter "
    "ladder letter master member water wonder summer hunger anger finger cancer fever liver "
    "silver timber cider ever offer order shelter theater theatre murder disorder terror honor honour "
    "humor humour rumor rumour vapor reactor generator escalator monitor detector projector valor "
    "vigor major minor manor heist exist assist resist insist persist mist list fist wrist "
    "twist after-dinner drawer container trailer lantern"
)
AGE_ADJ = {
    "old": "elder", "elderly": "elder", "aged": "elder", "aging": "elder", "ageing": "elder",
    "retired": "elder", "ancient": "elder", "widowed": "elder", "young": "young", "little": "child",
    "teenage": "teen", "adolescent": "teen", "baby": "child", "newborn": "child", "middle-aged": "adult",
}
STATE_ADJ = {
    "stranded": "stranded in the shallows", "lost": "lost and frightened", "injured": "injured and unable to move",
    "wounded": "wounded and exhausted", "trapped": "trapped and struggling", "stray": "thin, dirty and alone",
    "abandoned": "abandoned and shivering", "sick": "sick and weak", "hungry": "hungry and wary",
    "frightened": "frightened and hiding", "scared": "frightened and hiding", "runaway": "on the run and wary",
    "homeless": "alone with nowhere to go", "orphaned": "orphaned and alone", "caged": "locked in a cage",
    "captive": "held captive", "broken": "broken and sputtering", "rusty": "rusty and sputtering",
    "wild": "wild and wary", "beached": "stranded on the sand", "exiled": "exiled and alone",
    "shipwrecked": "clinging to wreckage", "forgotten": "forgotten and gathering dust",
    "fallen": "fallen and bruised", "cursed": "under a strange curse", "sleeping": "fast asleep",
}
SIZE_COLOR_ADJ = _W(
    "tall short small tiny big huge giant enormous fat chubby thin skinny blind deaf one-eyed "
    "one-legged bald bearded scruffy fluffy wrinkled strong muscular clumsy red white black gray grey "
    "golden silver blue green orange brown pink purple yellow spotted striped pale dark freckled "
    "three-legged long-haired curly-haired redheaded red-haired blonde blond"
)
TRAIT_ADJ = _W(
    "lonely shy brave grumpy curious timid fearless reckless stubborn kind gentle mischievous clever "
    "lazy proud nervous anxious jealous ambitious determined reclusive eccentric mysterious magical "
    "enchanted rebellious quiet restless weary tired sad happy cheerful angry bitter cynical "
    "optimistic hopeful hopeless dreamy awkward clumsy brilliant wise foolish greedy generous "
    "cranky cheeky sneaky loyal fierce wary bored struggling aspiring failed famous disgraced "
    "heartbroken grieving determined talented tireless fussy silly goofy lovesick daring bold "
    "sarcastic stern strict kindly humble arrogant vain cowardly tenacious gruff forgetful"
)
ROLE_ATTIRE = {
    "keeper": "a navy wool peacoat over a cream cable-knit sweater and black rubber boots",
    "fisherman": "a yellow oilskin jacket and rolled-up canvas trousers",
    "fisher": "a yellow oilskin jacket and rolled-up canvas trousers",
    "sailor": "a striped sailor's shirt, a navy pea jacket and a knitted cap",
    "captain": "a faded blue captain's coat with brass buttons and a peaked cap",
    "pirate": "a battered tricorn hat, a long red coat and tall leather boots",
    "astronaut": "a white spacesuit with orange mission patches and a silver-visored helmet",
    "detective": "a belted tan trench coat and a gray fedora",
    "inspector": "a belted tan trench coat and a gray fedora",
    "spy": "a sharp black suit and dark sunglasses",
    "agent": "a sharp black suit and dark sunglasses",
    "chef": "a white double-breasted chef's jacket and a striped apron",
    "cook": "a white double-breasted chef's jacket and a striped apron",
    "baker": "a flour-dusted white apron over a blue linen shirt",
    "doctor": "a white coat over a teal sweater, a stethoscope around the neck",
    "surgeon": "green surgical scrubs and a cap",
    "nurse": "light blue scrubs and white sneakers",
    "scientist": "a crisp white lab coat over a teal sweater and safety goggles",
    "inventor": "a leather work apron full of tools and brass goggles pushed up on the forehead",
    "engineer": "orange coveralls and a hard hat",
    "mechanic": "grease-stained blue overalls",
    "teacher": "a tweed jacket over a soft cardigan",
    "professor": "a tweed jacket with elbow patches and round glasses",
    "librarian": "a mustard cardigan and horn-rimmed glasses",
    "student": "a gray hoodie and a worn canvas backpack",
    "knight": "dented steel armor over a red tunic",
    "warrior": "leather armor and a fur-lined cloak",
    "soldier": "an olive-green field uniform and a helmet",
    "samurai": "dark indigo armor, a hakama and a katana at the hip",
    "ninja": "a black shinobi outfit and a face mask",
    "king": "a deep-red velvet robe with gold trim and a heavy gold crown",
    "queen": "a deep-red velvet gown with gold trim and a slim crown",
    "prince": "a blue velvet doublet and a thin silver circlet",
    "princess": "a pale-blue silk gown and a thin silver tiara",
    "wizard": "a long midnight-blue robe with silver stars and a pointed hat",
    "witch": "a long black dress, a patched cloak and a pointed hat",
    "mage": "a long midnight-blue robe with silver embroidery",
    "farmer": "faded denim overalls, a plaid shirt and a straw hat",
    "pilot": "a brown leather flight jacket and aviator goggles",
    "musician": "a black shirt with rolled sleeves and a worn leather guitar strap",
    "pianist": "a black concert suit and a loosened bow tie",
    "violinist": "a dark velvet dress-coat and a cream scarf",
    "singer": "a sequined midnight-blue jacket",
    "dancer": "a pale pink leotard and soft ballet shoes",
    "ballerina": "a pale pink tutu and satin ballet shoes",
    "painter": "a paint-spattered linen smock",
    "artist": "a paint-spattered linen smock",
    "writer": "a rumpled corduroy jacket with a notebook in the pocket",
    "photographer": "a khaki vest with many pockets and a camera around the neck",
    "explorer": "a khaki field jacket, cargo trousers and a wide-brimmed hat",
    "adventurer": "a khaki field jacket, cargo trousers and a wide-brimmed hat",
    "archaeologist": "a dusty khaki shirt and a wide-brimmed hat",
    "courier": "a blue courier uniform and a leather satchel",
    "messenger": "a blue courier uniform and a leather satchel",
    "mailman": "a blue postal uniform and a leather satchel",
    "postman": "a blue postal uniform and a leather satchel",
    "cowboy": "a dusty leather vest, a bandana and a wide cowboy hat",
    "thief": "a dark hooded jacket and fingerless gloves",
    "burglar": "a black turtleneck and fingerless gloves",
    "firefighter": "a tan fire-resistant coat with reflective stripes and a helmet",
    "gardener": "a straw hat, a green apron and muddy gloves",
    "monk": "simple saffron robes and sandals",
    "nun": "a black habit and a white veil",
    "priest": "a black cassock with a white collar",
    "clown": "a polka-dot suit, a red nose and oversized shoes",
    "magician": "a black tailcoat and a tall top hat",
    "hunter": "a weathered leather coat and tall boots",
    "ranger": "a green ranger's uniform and a wide-brimmed hat",
    "diver": "a black wetsuit and a dive mask pushed up on the forehead",
    "surfer": "a faded blue wetsuit",
    "climber": "a red climbing jacket and a harness of carabiners",
    "mountaineer": "a red down jacket, snow goggles and crampons",
    "boxer": "red boxing gloves and satin shorts",
    "runner": "a sleeveless running top and bright trainers",
    "barista": "a brown canvas apron over a white T-shirt",
    "janitor": "gray work overalls and a ring of keys on the belt",
    "guard": "a dark uniform and a peaked cap",
    "hacker": "a black hoodie and headphones around the neck",
    "gamer": "a black hoodie and headphones around the neck",
    "grandmother": "a lavender cardigan and a floral headscarf",
    "grandma": "a lavender cardigan and a floral headscarf",
    "grandfather": "a brown flat cap and a corduroy jacket",
    "grandpa": "a brown flat cap and a corduroy jacket",
    "girl": "a bright yellow raincoat and red sneakers",
    "boy": "a striped T-shirt, muddy jeans and sneakers",
    "child": "a bright yellow raincoat and red sneakers",
    "kid": "a striped T-shirt, muddy jeans and sneakers",
    "superhero": "a blue suit with a flowing red cape",
    "robot": "a frayed red scarf knotted around its neck",
    "android": "a simple gray jumpsuit",
    "bride": "a flowing white wedding dress",
    "groom": "a dark blue suit with a white flower in the lapel",
}
DEFAULT_ATTIRE = (
    "a mustard-yellow wool coat and a gray knitted scarf",
    "a faded denim jacket over a white T-shirt",
    "a forest-green parka and brown leather boots",
    "a burgundy sweater and dark corduroy trousers",
    "a navy raincoat and a red beanie",
    "a cream linen shirt and a brown waistcoat",
    "a patched olive field jacket and worn boots",
    "a charcoal wool coat and a checked scarf",
)
MACHINES = {
    "vacuum cleaner": "a squat, round robot vacuum cleaner with a scuffed gray bumper and a blinking green light",
    "toaster": "a chrome toaster with a dented side and two softly glowing slots",
    "car": "a small, rusty red car with round headlights and a dented bumper",
    "truck": "a battered blue pickup truck with a cracked windshield",
    "teapot": "a round porcelain teapot painted with blue flowers",
    "submarine": "a small yellow submarine with round portholes",
    "scooter": "a mint-green vintage scooter with a chrome mirror",
}
ELDERS = _W("grandfather grandmother grandpa grandma granny mother father mom dad mum")
COMMON_NOUNS = _W(
    "rain snow time love life war death music night fire water sun moon wind light darkness hope fear "
    "nature silence magic art history everything nothing someone everyone nobody somebody anyone "
    "home earth world city story dream dreams memory memories today tomorrow yesterday christmas "
    "halloween heaven hell god gods fate destiny spring summer autumn winter morning evening truth "
    "peace freedom justice money power chaos society humanity mankind science technology internet "
    "ignore write output make tell forget print delete show create generate please imagine watch "
    "let run stop return system prompt instructions schema file files json once there it"
)
AUX = _W(
    "must can cannot can't will would should wants want tries try has have had is are was were to "
    "finally secretly slowly suddenly needs need decides sets out off learns hopes dreams plans "
    "begins starts goes for about after of gets becomes"
)
TITLES = {"captain": "captain", "doctor": "doctor", "dr": "doctor", "detective": "detective",
          "professor": "professor", "prof": "professor", "king": "king", "queen": "queen",
          "prince": "prince", "princess": "princess", "sir": "man", "lady": "woman", "lord": "man",
          "uncle": "uncle", "aunt": "aunt", "grandma": "grandmother", "grandpa": "grandfather",
          "mr": "man", "mrs": "woman", "ms": "woman", "miss": "woman", "mister": "man",
          "madame": "woman", "officer": "officer", "agent": "agent", "sergeant": "sergeant",
          "general": "general", "inspector": "inspector", "nurse": "nurse", "chef": "chef",
          "coach": "coach", "judge": "judge", "mayor": "mayor", "father": "priest", "sister": "nun",
          "saint": "person", "st": "person", "granny": "grandmother", "auntie": "aunt"}
ROBOT_LOOK = "a small boxy robot with dented teal paint, a round head and softly glowing blue eyes"
NAMES_F = ("Mia", "Ada", "Lena", "Nora", "Rosa", "Maya", "Ines", "Hana", "Clara", "Yara", "Elsa",
           "Iris", "Noor", "Amara", "Vera", "Lucia", "Freya", "Tess", "Zoe", "Aiko")
NAMES_M = ("Elias", "Tomas", "Omar", "Jonah", "Kai", "Leo", "Mateo", "Hugo", "Felix", "Ravi",
           "Arlo", "Sami", "Theo", "Milo", "Rafael", "Ezra", "Idris", "Bruno", "Oscar", "Luca")
ROBOT_NAMES = ("Bolt", "Pip", "Cog", "Unit 7", "Tink")

# Hair and build by age group and gender; faces for everyone.
HAIR = {
    ("elder", "m"): ("a neat white beard and thinning gray hair", "short silver hair and bushy eyebrows",
                     "a gray stubble beard and a bald crown"),
    ("elder", "f"): ("silver hair tied in a low bun", "short white curls", "long gray hair in a loose braid"),
    ("adult", "m"): ("short dark curly hair and a trimmed beard", "close-cropped black hair",
                     "sandy-blond hair and a stubbled jaw", "cropped gray-streaked hair"),
    ("adult", "f"): ("shoulder-length auburn hair", "a sleek black bob", "curly dark hair pinned up",
                     "a long sandy-blond ponytail"),
    ("young", "m"): ("tousled brown hair", "short black hair with a shaved side", "messy blond hair"),
    ("young", "f"): ("long wavy red hair", "a short dark pixie cut", "long black hair in a ponytail"),
    ("teen", "m"): ("shaggy brown hair falling into his eyes", "short black curls"),
    ("teen", "f"): ("a messy brown ponytail", "long black hair with a blue streak"),
    ("child", "m"): ("a mop of messy brown curls", "short spiky black hair"),
    ("child", "f"): ("two black braids", "a bouncy mop of red curls"),
}
BUILD = {"elder": ("wiry", "stooped but sturdy", "tall, weathered"),
         "adult": ("tall, lean", "stocky, broad-shouldered", "slight, wiry", "sturdy"),
         "young": ("lanky", "athletic", "slight"), "teen": ("lanky", "gangly", "small"),
         "child": ("small", "skinny", "round-cheeked")}
FACES = ("a weathered, kind face", "freckled cheeks and sharp dark eyes", "bright green eyes",
         "round wire-rimmed glasses", "a warm, lined face", "deep-set gray eyes", "a gap-toothed smile",
         "a thin scar across one eyebrow")
AGES = {"elder": {"m": ("in his 70s", "in his late 60s"), "f": ("in her 70s", "in her late 60s")},
        "adult": {"m": ("in his 30s", "in his 40s", "in his 50s"), "f": ("in her 30s", "in her 40s", "in her 50s")},
        "young": {"m": ("in his early 20s",), "f": ("in her early 20s",)},
        "teen": {"m": ("about 16 years old",), "f": ("about 16 years old",)},
        "child": {"m": ("about 9 years old",), "f": ("about 9 years old",)}}
ROLE_AGE = {"grandmother": "elder", "grandma": "elder", "grandfather": "elder", "grandpa": "elder",
            "retiree": "elder", "widow": "elder", "widower": "elder", "elder": "elder", "hermit": "elder",
            "veteran": "elder", "girl": "child", "boy": "child", "child": "child", "kid": "child",
            "toddler": "child", "baby": "child", "orphan": "child", "schoolgirl": "child", "schoolboy": "child",
            "teenager": "teen", "teen": "teen", "student": "young", "intern": "young", "cadet": "young",
            "rookie": "young", "apprentice": "young", "youngster": "teen", "prince": "young",
            "princess": "young", "bride": "young", "groom": "young"}
GENDER_NOUN = {("elder", "m"): "man", ("elder", "f"): "woman", ("adult", "m"): "man",
               ("adult", "f"): "woman", ("young", "m"): "man", ("young", "f"): "woman",
               ("teen", "m"): "boy", ("teen", "f"): "girl", ("child", "m"): "boy", ("child", "f"): "girl"}


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
             "in|a rain-washed city at night", "in|the city",
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
             "frozen tundra penguin yeti polar igloo ski climber mountaineer avalanche",
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
             "The lights fail and rain lashes the windows on the night of the big event",
             "rain lashes the windows", "flickering emergency light",
             ["dust floats in the sunbeams", "pages rustle softly"]),
    _setting("castle", "castle kingdom palace throne knight king queen prince princess dragon tower "
             "realm medieval court dungeon wizard witch sorcerer",
             "in|a stone castle above a misty valley", "in|the castle",
             ["in|the great hall lit by torches", "in|the castle courtyard", "on|a winding tower stair",
              "on|the battlements above the valley"],
             ["polishes a sword in the armory", "walks the battlements at dawn"],
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
             ["on|a small country station platform", "in|the swaying corridor of a night train",
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
)
DEFAULT_SETTING = _setting(
    "town", "", "in|a quiet small town", "in|the town",
    ["in|a sunlit town square", "on|a narrow cobbled street", "in|a small kitchen with a checkered tablecloth",
     "on|a grassy hill above the town"],
    ["sweeps the front step", "waters a row of potted plants", "walks to the corner bakery"],
    "A sudden storm sweeps over the town, sending everyone running", "rain sweeps the streets",
    "dark, wind-torn storm light", ["a church bell rings in the distance", "leaves skitter across the cobbles"])
UNREAD_SETTING = _setting(
    "story", "", "in|the world of the story", "in|the world of the story", ["in|the world of the story"],
    [""], "The most dramatic moment of the story erupts", "the story reaches its peak",
    "dramatic, high-contrast light", [""])
ACCESSORIES = ("a red neckerchief", "a yellow bandana", "round tortoiseshell glasses", "a green knitted scarf",
               "a silver pocket watch on a chain", "a blue beret")
ANIMAL_ROUTINES = ("wanders slowly about, sniffing the air", "rests in a patch of light, watching the world go by")

# Relation categories, by verb stems (first match in the verb phrase wins, then the whole logline).
RELATIONS = (
    ("romance", "love fall falls fell date dates marry marries kiss kisses court courts woo romance crush"),
    ("conflict", "fight fights battle battles duel duels defeat defeats outwit outwits race races compete competes "
     "rival rivals hunt hunts chase chases confront confronts challenge challenges against steal steals rob robs "
     "stop stops battle escape escapes flee flees outrun outruns defend defends"),
    ("bond", "befriend befriends friend meet meets help helps save saves rescue rescues adopt adopts protect "
     "protects care cares teach teaches heal heals shelter shelters feed feeds bond bonds find finds tame tames "
     "raise raises hide hides nurse nurses free frees guide guides"),
    ("carry", "deliver delivers carry carries bring brings take takes return returns smuggle smuggles transport "
     "transports send sends"),
    ("seek", "search searches seek seeks look looks hunt track tracks follow follows investigate investigates "
     "solve solves uncover uncovers discover discovers chase recover recovers retrieve retrieves"),
    ("make", "build builds make makes bake bakes cook cooks fix fixes repair repairs create creates paint paints "
     "write writes invent invents design designs restore restores plant plants grow sew sews knit knits"),
    ("journey", "travel travels journey journeys cross crosses climb climbs reach reaches explore explores walk "
     "walks sail sails fly flies swim swims ride rides run runs go goes head heads venture ventures wander wanders"),
    ("change", "learn learns overcome overcomes accept accepts forgive forgives mourn mourns grieve grieves lose "
     "loses remember remembers become becomes dream dreams face faces cope copes recover wake wakes discover"),
)
_RELATION_OF = {w: cat for cat, words in RELATIONS for w in words.split()}

# ================================================================================================
# Reading the logline
# ================================================================================================


@dataclass
class Seed:
    """A character as read from the logline."""

    head: str
    """Head noun, singular (``keeper``, ``whale``); ``person`` for a bare name."""
    kind: str
    """person, animal, creature or robot."""
    modifiers: list[str] = field(default_factory=list)
    name: str | None = None
    gender: str = ""
    age_group: str = ""
    traits: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    looks: list[str] = field(default_factory=list)
    attire: str = ""
    adjuncts: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0
    group: int = 0
    """Seeds of one plural phrase (``two sisters``) share a group."""
    surface: str = ""
    """The phrase as the logline writes it."""
    copy: bool = False
    """True for the second and later members of a plural phrase."""


@dataclass
class Premise:
    """What the planner understood of the logline."""

    logline: str
    readable: bool
    seeds: list[Seed]
    relation: str
    together: bool
    team: int
    """How many characters act together as the hero (``Mia and her grandfather``: 2)."""
    setting: Setting
    where: str
    """The place as the establishing shot shows it, ``prep|phrase``."""
    short: str
    """The place as the first scene's actions name it, ``prep|phrase``."""
    goal: str
    verb_phrase: str


_TOKEN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


def _singular(word: str) -> str:
    """The singular of a plural character noun (``wolves`` → ``wolf``); other words unchanged."""
    w = word.lower()
    if w in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[w]
    if _lexicon_kind(w):
        return w
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("ves", "fe"), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            cand = w[: -len(suffix)] + repl
            if _lexicon_kind(cand):
                return cand
    if w.endswith(("ers", "ors", "ists", "ians")):
        return w[:-1]
    return w


def _lexicon_kind(w: str) -> str | None:
    if w in ROBOTS:
        return "robot"
    if w in MACHINES:
        return "machine"
    if w in CREATURES and CREATURES[w]:
        return "creature"
    if w in ANIMALS or w in YOUNG_ANIMALS:
        return "animal"
    if w in PERSON or w in FEMALE or w in MALE:
        return "person"
    if w.endswith(("woman", "man")) and len(w) > 5 and w not in ("human", "snowman", "german", "roman", "woman"):
        return "person"
    return None


def _kind_of(word: str, in_phrase: bool = False) -> str | None:
    """person, animal, creature, robot or machine for a character noun; None otherwise.

    Beyond the lexicon, a noun ending in -er/-or/-ist/-ian counts as a person only inside a noun
    phrase (after a determiner), so verbs like ``deliver`` or ``discover`` never do."""
    w = word.lower()
    kind = _lexicon_kind(w)
    if kind or not in_phrase:
        return kind
    if w in NOT_PERSON_ER or w in FUNCTION or w in COMMON_NOUNS or w in _RELATION_OF:
        return None
    if len(w) > 4 and w.endswith(("er", "or", "ist", "ian")) and not w.endswith(("ier", "ower", "ster")):
        return "person"
    return None


def _is_verbish(word: str) -> bool:
    """A guess: lower-case words ending in s (not -ss/-us/-is/-ous) are verbs or plurals."""
    w = word.lower()
    return w.endswith("s") and not w.endswith(("ss", "us", "is", "ous", "'s", "’s")) and len(w) > 3


def _adjective_class(word: str) -> str | None:
    w = word.lower()
    if w in AGE_ADJ:
        return "age"
    if w in STATE_ADJ:
        return "state"
    if w in SIZE_COLOR_ADJ:
        return "look"
    if w in TRAIT_ADJ:
        return "trait"
    if w.endswith(("ful", "ous", "less", "ish", "ive", "ic", "ed", "ing", "y", "al")) and len(w) > 4:
        return "trait"
    return None


def _gender_of(head: str, name: str | None) -> str:
    if head in FEMALE:
        return "f"
    if head in MALE:
        return "m"
    if name:
        first = name.split()[-1]
        if first in NAMES_F:
            return "f"
        if first in NAMES_M:
            return "m"
    return ""


def _modifier_like(tok: str) -> bool:
    w = tok.lower()
    return (tok[:1].isalpha() and w not in FUNCTION and w not in _RELATION_OF and w not in AUX
            and (not _is_verbish(w) or w in STATE_ADJ or w.endswith("ous")))


def _determiner_before(toks: list[str], i: int) -> int | None:
    """Index of the determiner (or number, or possessive name) that opens the phrase ending at ``i``."""
    j = i - 1
    steps = 0
    while j >= 0 and steps <= 4:
        w = toks[j].lower()
        if w in DETERMINERS or w in NUMBERS:
            return j
        if w in ("'s", "’s"):
            return j
        if not _modifier_like(toks[j]):
            return None
        j -= 1
        steps += 1
    return None


def _name_start(toks: list[str], i: int) -> bool:
    tok = toks[i]
    low = tok.lower()
    return (tok[:1].isupper() and len(tok) > 1 and tok[:1].isalpha()
            and low not in FUNCTION and low not in NUMBERS and low not in DETERMINERS
            and not _lexicon_kind(_singular(low)) and low not in AGE_ADJ and low not in TRAIT_ADJ
            and low not in STATE_ADJ and low not in SIZE_COLOR_ADJ and low not in _RELATION_OF
            and low not in COMMON_NOUNS and low not in TIME_WORDS and low not in AUX
            and not any(low in st.words for st in SETTINGS))


def _parse_noun_phrases(toks: list[str]) -> list[Seed]:
    """Character noun phrases, in order of appearance (see the module docstring)."""
    seeds: list[Seed] = []
    n = len(toks)
    i = 0
    group = 0
    while i < n:
        tok = toks[i]
        low = tok.lower()
        # "Captain Ahab", "Dr. Chen"
        if tok[:1].isupper() and low in TITLES:
            j = i + 1
            if j < n and toks[j] == ".":
                j += 1
            if j < n and toks[j][:1].isupper() and _name_start(toks, j):
                parts = [toks[j]]
                k = j + 1
                while k < n and toks[k][:1].isupper() and _name_start(toks, k) and len(parts) < 2:
                    parts.append(toks[k])
                    k += 1
                title = tok + ("." if toks[i + 1] == "." else "")
                head = TITLES[low]
                seeds.append(Seed(head=head, kind="person", name=f"{title} {' '.join(parts)}", start=i, end=k,
                                  group=-1))
                i = k
                continue
        # Proper names: capitalised words that are not common words
        if _name_start(toks, i):
            j = i
            parts = []
            while j < n and _name_start(toks, j) and len(parts) < 3:
                parts.append(toks[j])
                j += 1
            nxt = toks[j].lower() if j < n else ""
            prev = toks[i - 1].lower() if i > 0 else ""
            acting = (nxt in ("and", "&", ",", "'s", "’s", "who", "must", "is", "was", "has", "finally",
                              "the", "named", "")
                      or _is_verbish(nxt) or nxt in _RELATION_OF or nxt in AUX
                      or prev in ("named", "called", "and", "&", "with", ",") or _is_verbish(prev)
                      or prev in _RELATION_OF)
            if nxt == "the" and j + 1 < n and not _lexicon_kind(_singular(toks[j + 1].lower())):
                acting = False
            if acting and prev not in ("in", "at", "to", "from", "of", "on", "into", "across", "near"):
                seeds.append(Seed(head="person", kind="person", name=" ".join(parts), start=i, end=j, group=-1))
                i = j
                continue
        det = _determiner_before(toks, i)
        head = _singular(low) if tok[:1].isalpha() else ""
        kind = _kind_of(head, in_phrase=det is not None) if head else None
        if kind:
            # a noun used as a modifier of the next noun: "rival chefs", "dog walker", "vacuum cleaner"
            if i + 1 < n and (f"{head} {toks[i + 1].lower()}" in MACHINES or f"{head} {toks[i + 1].lower()}" in ANIMALS
                              or _kind_of(_singular(toks[i + 1].lower()), in_phrase=True)):
                i += 1
                continue
            if i > 0:
                pair = f"{toks[i - 1].lower()} {head}"
                if pair in ANIMALS or pair in MACHINES:
                    head, kind = pair, ("machine" if pair in MACHINES else "animal")
            start = det if det is not None else i
            mods = [t.lower() for t in toks[(det + 1 if det is not None else i):i]]
            if " " in head:
                mods = mods[:-1]
            count = NUMBERS.get(toks[det].lower(), 1) if det is not None else 1
            plural = low != head.split()[-1] and low.endswith("s") and head not in ("fish", "sheep", "deer")
            seed = Seed(head=head, kind=kind, modifiers=mods, start=start, end=i + 1, group=group)
            if i + 2 < n and toks[i + 1].lower() in ("named", "called") and toks[i + 2][:1].isupper():
                seed.name = toks[i + 2]
                seed.end = i + 3
            copies = count if count > 1 else (2 if plural else 1)
            seeds.append(seed)
            for _ in range(min(copies, 3) - 1):
                seeds.append(Seed(head=head, kind=kind, modifiers=list(mods), start=seed.start, end=seed.end,
                                  group=group, copy=True))
            group += 1
            i = seed.end
            continue
        i += 1
    seeds = _merge_named(seeds, toks)
    for sd in seeds:
        sd.surface = " ".join(toks[sd.start:sd.end])
    while len(seeds) > MAX_CHARACTERS and any(s.copy for s in seeds):
        last_copy = max(k for k, s in enumerate(seeds) if s.copy)
        seeds.pop(last_copy)
    return seeds[:MAX_CHARACTERS]


def _merge_named(seeds: list[Seed], toks: list[str]) -> list[Seed]:
    """``Neo, a hacker,`` / ``Max the dog``: a name and the role beside it are one character."""
    out: list[Seed] = []
    for s in seeds:
        prev = out[-1] if out else None
        if prev is not None and prev.name and prev.head == "person" and not s.name and not s.copy:
            between = [t.lower() for t in toks[prev.end:s.start]]
            if between in ([","], [], ["the"]):
                prev.head, prev.kind, prev.modifiers, prev.end = s.head, s.kind, s.modifiers, s.end
                continue
        # "her estranged son, a restless young photographer,": one person described twice
        if prev is not None and not s.copy and prev.kind == s.kind == "person" and toks[prev.end:s.start] == [","] \
                and toks[s.start].lower() in ("a", "an") and (s.end >= len(toks) or toks[s.end] in (",", ".", ";")):
            prev.modifiers = prev.modifiers + s.modifiers + [s.head]
            prev.end = s.end
            continue
        if prev is not None and prev.name and s.copy and prev.group == s.group:
            out.append(s)
            continue
        if s.name and any(o.name == s.name for o in out):
            continue
        out.append(s)
    return out


def _place_phrase(toks: list[str], seeds: list[Seed]) -> tuple[str, set[str], list[tuple[int, str]]]:
    """(place phrase in the logline's words, its words, attire phrases by token index)."""
    preps = {"in", "on", "at", "inside", "aboard", "across", "beneath", "under", "near", "through",
             "within", "among", "atop", "above", "below", "beyond", "into", "onto", "along", "around",
             "outside", "over", "amid", "throughout"}
    stops = {"and", "who", "that", "which", "to", "when", "while", "but", "before", "after", "until",
             "as", "because", "so", "where", "with", "for", "by", "from", ",", ".", ";", ":", "!", "?"}
    occupied = {k for s in seeds for k in range(s.start, s.end)}
    attire: list[tuple[int, str]] = []
    for i, tok in enumerate(toks):
        if tok.lower() not in preps or i in occupied:
            continue
        j = i + 1
        words = []
        while j < len(toks) and toks[j].lower() not in stops and len(words) < 7:
            if toks[j].lower() in preps and toks[j].lower() != "of" and words:
                break
            words.append(toks[j])
            j += 1
        if not words:
            continue
        low = [w.lower() for w in words]
        if any(w in CLOTHING for w in low):
            attire.append((i, " ".join(words)))
            continue
        if low[-1] in TIME_WORDS or low[-1] in NOT_PLACES:
            continue
        placeish = (low[0] in DETERMINERS or any(w[:1].isupper() for w in words)
                    or any(w in st.words for st in SETTINGS for w in low))
        if not placeish:
            continue
        if any(k in occupied for k in range(i + 1, j)):
            continue
        phrase = " ".join(words)
        return f"{tok.lower()} {phrase}", set(low), attire
    return "", set(), attire


_GOAL_STOPS = {"and", "who", "that", "which", "to", "when", "while", "but", "before", "after", "in", "on",
               "at", "across", "through", "with", ",", ".", ";", ":", "!", "?", "from", "into", "during",
               "against", "as", "because", "until", "so", "for", "of"}


def _goal_phrase(toks: list[str], seeds: list[Seed], after: int) -> str:
    """The verb's object when it is not a character: ``searches for her lost kite`` → ``the lost kite``."""
    occupied = {k for s in seeds for k in range(s.start, s.end)}
    i = after
    while i < len(toks) and (toks[i].lower() in AUX or toks[i].lower() in _RELATION_OF or toks[i] == ","
                             or _is_verbish(toks[i]) or toks[i].lower() in ("for", "about", "to", "up")):
        if i in occupied:
            return ""
        i += 1
    if i >= len(toks) or i in occupied:
        return ""
    first = toks[i].lower()
    if first in DETERMINERS and first not in ("one", "every"):
        det, j = first, i + 1
    elif first not in FUNCTION and toks[i][:1].isalpha():
        det, j = "the", i
    else:
        return ""
    words = []
    while j < len(toks) and toks[j].lower() not in _GOAL_STOPS and j not in occupied and len(words) < 5:
        words.append(toks[j])
        j += 1
    if not words or words[-1].lower() in TIME_WORDS or words[-1].lower() in CLOTHING \
            or words[-1].lower() in NOT_PLACES or not words[-1][:1].isalpha():
        return ""
    det = "the" if det in ("a", "an", "some", "this", "that", "another", "his", "her", "their", "its",
                           "my", "our", "your") else det
    return f"{det} {' '.join(words)}"


RECIPROCAL = _W("compete competes race races duel duels rival rivals argue argues fight fights battle battles "
                "love fall falls date dates marry marries kiss kisses")


def _relation(toks: list[str], seeds: list[Seed]) -> tuple[str, str, int, list[Seed]]:
    """(category, verb phrase as written, how many seeds act together as the hero (1 = alone),
    seeds reordered as [hero, other, companions...])."""
    if not seeds:
        return "world", "", 1, seeds
    k = 1
    together = False
    while k < len(seeds):
        between = [t.lower() for t in toks[seeds[k - 1].end:seeds[k].start]]
        if seeds[k].group == seeds[k - 1].group or between in (["and"], ["&"], [","], [",", "and"]):
            together = True
            k += 1
        else:
            break
    subjects, rest = seeds[:k], seeds[k:]
    end = subjects[-1].end
    window = [t.lower() for t in toks[end:(rest[0].start if rest else len(toks))]]
    verb_words = [t for t in window if t not in DETERMINERS][:6]
    category = None
    for w in window + [t.lower() for t in toks]:
        if w not in _RELATION_OF:
            continue
        cat = _RELATION_OF[w]
        if cat in ("bond", "conflict", "romance") and not rest:
            if not together:
                continue
            if w not in RECIPROCAL and cat != "romance":
                cat = "change"
        category = cat
        break
    if category is None:
        category = "bond" if rest else "journey"
    if category in ("bond", "conflict", "romance") and rest:
        # the hero, the other, then the hero's companions and anyone else
        ordered = [subjects[0], rest[0], *subjects[1:], *rest[1:]]
        return category, " ".join(verb_words), 1, ordered
    return category, " ".join(verb_words), len(subjects), seeds


def goal_np_is_place(toks: list[str], seeds: list[Seed]) -> tuple[str, set[str]] | None:
    """``explores a snowy forest``: a verb's object that names a place is the setting."""
    if not seeds:
        return None
    goal = _goal_phrase(toks, seeds, max(sd.end for sd in seeds[:1]))
    words = goal.lower().split()[1:]
    if words and any(words[-1] in st.words for st in SETTINGS) and not _lexicon_kind(words[-1]):
        return "in " + goal, set(words)
    return None


def read_logline(logline: str) -> Premise:
    """What the offline planner understands of ``logline`` (already cleaned)."""
    toks = _tokens(logline)
    english_hits = sum(1 for t in toks if t.lower() in FUNCTION)
    lexicon_hits = sum(1 for t in toks if _lexicon_kind(_singular(t.lower())))
    readable = _latin_share(logline) >= 0.6 and (english_hits >= 2 or lexicon_hits > 0
                                                 or (english_hits == 1 and len(toks) <= 4))
    seeds = _parse_noun_phrases(toks) if readable else []
    place, place_words, attire = _place_phrase(toks, seeds) if readable else ("", set(), [])
    for idx, phrase in attire:
        owner = [s for s in seeds if s.end <= idx]
        if owner:
            owner[-1].attire = re.sub(r"^(his|her|their|its)\s", "a ", phrase)
    for s in seeds:
        for m in s.modifiers:
            cls = _adjective_class(m)
            if cls == "age":
                s.age_group = AGE_ADJ[m]
            elif cls == "state":
                s.states.append(m)
            elif cls == "look":
                s.looks.append(m)
            elif cls == "trait":
                s.traits.append(m)
            else:
                s.adjuncts.append(m)
        s.gender = _gender_of(s.head, s.name)
    # "Mia and her grandfather": a bare name beside a parent or grandparent is a child
    if any(sd.head in ELDERS for sd in seeds):
        for sd in seeds:
            if sd.name and sd.head == "person" and not sd.age_group:
                sd.age_group = "child"
    # pronouns tell the gender of the first person without one ("a keeper and her dog")
    pron = next((t.lower() for t in toks if t.lower() in ("he", "his", "him", "she", "her", "hers")), None)
    if pron:
        first = next((s for s in seeds if s.kind == "person" and not s.gender), None)
        if first is not None:
            first.gender = "f" if pron in ("she", "her", "hers") else "m"
    relation, verb_phrase, team, seeds = _relation(toks, seeds) if readable else ("unread", "", 1, [])
    together = team > 1
    if not place and readable:
        place, place_words = goal_np_is_place(toks, seeds) or ("", set())
    all_words = {t.lower() for t in toks} | {s.head for s in seeds}
    setting = _pick_setting(place_words, all_words, seeds) if readable else UNREAD_SETTING
    if place:
        where = short = _where_phrase(place)
    else:
        where, short = setting.where, setting.short
    after = max((sd.end for sd in seeds[: (2 if together else 1)]), default=0)
    goal = _goal_phrase(toks, seeds, after) if readable and seeds else ""
    if goal and relation in ("journey", "seek") and set(goal.lower().split()[1:]) & (setting.words | place_words):
        goal = ""  # "cross the desert": the desert is where the journey happens, not its end
    return Premise(logline=logline, readable=readable, seeds=seeds, relation=relation, together=together,
                   team=team, setting=setting, where=where, short=short, goal=goal, verb_phrase=verb_phrase)


def _pick_setting(place_words: set[str], all_words: set[str], seeds: list[Seed]) -> Setting:
    best, best_score = DEFAULT_SETTING, 0
    for st in SETTINGS:
        score = 3 * len(st.words & place_words) + len(st.words & all_words)
        if score > best_score:
            best, best_score = st, score
    return best


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


# ================================================================================================
# The bible
# ================================================================================================


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


# ================================================================================================
# Beats and moments
# ================================================================================================

BEAT_WEIGHT = {"setup": 2.0, "inciting": 1.5, "rising": 3.0, "climax": 2.0, "resolution": 1.5}
SCENE_BEATS = {
    3: (("setup", "inciting"), ("rising", "climax"), ("resolution",)),
    4: (("setup", "inciting"), ("rising",), ("climax",), ("resolution",)),
    5: (("setup",), ("inciting",), ("rising",), ("climax",), ("resolution",)),
}

# A moment is (action, continuation): the continuation is what the next shot shows when it carries
# on from the last frame (cut=false). Placeholders: {A} {B} (characters; details at first mention),
# {with_B} (", with B close beside" for co-protagonists), {place} (a noun phrase: "across {place}"),
# {at_place} (with its preposition: "on the rocky shore"), {goal}, {goal_bare}, {state},
# {care}, {hazard}, {hazard_short}, {routine}, {subject}.
Moment = tuple[str, str]
SETUP: tuple[Moment, ...] = (
    ("{A} {routine} {at_place}{with_B}.", "{A} stops for a moment and looks out across {place}, lost in thought."),
    ("{A} {routine}{with_B}, the same as every day.", "{A} glances up, as if sensing that today will be different."),
    ("Alone with the quiet of {place}, {A} {routine}{with_B}.", "{A} straightens up and takes in the stillness of {place}."),
)
MOMENTS: dict[str, dict[str, tuple[Moment, ...]]] = {
    "bond": {
        "inciting": (
            ("{A} spots {B} in the distance, {state}, and hurries closer.",
             "{A} slows down a few steps from {B}, and for a long moment the two simply look at each other."),
            ("{A} discovers {B} {at_place}, {state}, and stops short in surprise.",
             "{A} kneels carefully beside {B} and reaches out an open hand."),
        ),
        "rising": (
            ("{A} {care}.", "{B} stirs and seems to calm, and {A} breaks into a small, relieved smile."),
            ("{A} sits beside {B} {at_place}, talking softly as the light shifts.",
             "{B} edges a little closer, no longer afraid, and {A} laughs quietly."),
            ("{A} returns with supplies and works tirelessly to keep {B} safe.",
             "{A} pauses to catch a breath and checks on {B} once more, gently."),
        ),
        "climax": (
            ("{hazard}, and {B} is in danger as {A} races back across {place}.",
             "{A} fights through the chaos to reach {B}, refusing to turn back."),
            ("{A} strains with every ounce of strength to help {B} while {hazard_short}.",
             "With one last desperate effort {B} breaks free, and {A} sinks down, exhausted but relieved."),
        ),
        "resolution": (
            ("{A} and {B} rest side by side {at_place} as calm returns.",
             "{A} smiles and reaches out gently toward {B}, friends now."),
            ("{A} and {B} share one last long look {at_place}.",
             "{B} moves slowly away, and {A} raises a hand in a quiet farewell."),
        ),
    },
    "conflict": {
        "inciting": (
            ("{B} appears across {place} and blocks the path of {A}.",
             "{A} squares up to {B} as the two of them size each other up."),
            ("{A} and {B} come face to face {at_place}, neither willing to step aside.",
             "{B} makes the first move, and {A} stands firm."),
        ),
        "rising": (
            ("{A} races through {place} with {B} close behind.",
             "{A} ducks around a corner and glances back as {B} closes the gap."),
            ("{A} studies {place} in secret, searching for an advantage over {B}.",
             "{A} finds it and allows a small, determined smile."),
            ("{B} gains the upper hand, and {A} stumbles and falls {at_place}.",
             "{A} gets back up, jaw set, eyes locked on {B}."),
        ),
        "climax": (
            ("{A} and {B} face off in a final showdown while {hazard_short}.",
             "At the decisive moment {A} outwits {B} with a bold, unexpected move."),
            ("{B} lunges forward, and {A} stands fast in the middle of {place}.",
             "{A} turns the tables, and {B} is forced back at last."),
        ),
        "resolution": (
            ("{A} offers a hand to {B}, and after a long pause {B} takes it.",
             "{A} and {B}, rivals no longer, share a tired, grudging smile."),
            ("{A} stands {at_place}, bruised but victorious, while {B} walks away.",
             "{A} lets out a long breath and finally relaxes."),
        ),
    },
    "romance": {
        "inciting": (
            ("{A} bumps into {B} {at_place}, and everything they carry scatters across the ground.",
             "{A} and {B} kneel to gather everything up, and their eyes meet."),
            ("{A} notices {B} across {place}, and the noise of the world seems to fade.",
             "{B} looks up and catches the gaze of {A}, and both of them smile shyly."),
        ),
        "rising": (
            ("{A} and {B} walk slowly side by side through {place}, talking and laughing.",
             "{B} stops to point something out, and {A} laughs, leaning closer."),
            ("{A} and {B} share a simple meal {at_place}, sitting close together.",
             "{A} reaches across and brushes the hand of {B}."),
            ("{A} shows {B} a favorite hidden corner of {place}.",
             "{B} turns to {A} in delight, and they share a long look."),
        ),
        "climax": (
            ("A misunderstanding pulls {A} and {B} apart, and {B} walks away through {place}.",
             "{A} stands alone for a heartbeat, then runs after {B}."),
            ("{hazard}, and {A} searches desperately for {B}.",
             "{A} finally finds {B}, and the two of them hold each other tight."),
        ),
        "resolution": (
            ("{A} and {B} sit together {at_place}, hand in hand, as the day ends.",
             "{A} and {B} lean their heads together and smile."),
        ),
    },
    "seek": {
        "inciting": (
            ("{A} finds a first clue {at_place} that points toward {goal}{with_B}.",
             "{A} crouches to study the clue closely, eyes narrowing."),
            ("{A} unfolds an old map of {place} and traces a path toward {goal}{with_B}.",
             "{A} folds the map away and sets off with quick, determined steps."),
        ),
        "rising": (
            ("{A} searches every corner of {place}{with_B}, turning over anything that might help.",
             "{A} finds another clue and holds it up to the light."),
            ("{A} follows a trail of small signs through {place}{with_B}.",
             "{A} hesitates at a fork in the path, then chooses the narrower way."),
            ("{A} loses the trail {at_place} and sits down, discouraged{with_B}.",
             "{A} notices something small and overlooked, and hope returns."),
        ),
        "climax": (
            ("{hazard} just as {A} finally finds {goal}.",
             "{A} holds on tight while {hazard_short}, refusing to let go."),
        ),
        "resolution": (
            ("Calm returns to {place}, and {A} smiles with quiet satisfaction{with_B}.",
             "{A} looks back once at the long road travelled, then turns toward home."),
        ),
    },
    "carry": {
        "inciting": (
            ("{A} is handed {goal} and an urgent task {at_place}{with_B}.",
             "{A} tucks {goal} safely away and sets off without looking back."),
        ),
        "rising": (
            ("{A} hurries through {place}{with_B}, keeping {goal} close.",
             "{A} pauses to check that {goal} is still safe, then presses on."),
            ("{A} takes a long detour around a blocked road {at_place}{with_B}.",
             "{A} climbs over the last obstacle and keeps going."),
        ),
        "climax": (
            ("{hazard}, and {A} shields {goal} with both arms.",
             "{A} pushes forward step by step, refusing to give up."),
        ),
        "resolution": (
            ("{A} hands over {goal} at last {at_place}{with_B}.",
             "{A} watches it being opened and smiles, the long journey finally worth it."),
        ),
    },
    "make": {
        "inciting": (
            ("{A} sketches an idea for {goal} at a cluttered table {at_place}{with_B}.",
             "{A} looks up from the sketch, eyes bright with excitement."),
        ),
        "rising": (
            ("{A} gathers materials and starts work on {goal}{with_B}.",
             "{A} fits the first pieces together, concentrating hard."),
            ("The first attempt at {goal} falls apart, and {A} slumps in disappointment{with_B}.",
             "{A} picks up the pieces and starts again, more carefully this time."),
            ("{A} works late into the evening on {goal}{with_B}, lit by a single lamp.",
             "{A} adds the final touch and steps back to look."),
        ),
        "climax": (
            ("{hazard}, just as {A} puts {goal} to the test.",
             "Against all odds {goal} holds, and {A} cheers with joy."),
        ),
        "resolution": (
            ("{A} proudly shows off the finished {goal_bare} {at_place}{with_B}.",
             "{A} laughs, delighted, as everyone gathers around to admire it."),
        ),
    },
    "journey": {
        "inciting": (
            ("{A} packs a small bag and sets off across {place}{with_B}.",
             "{A} glances back once at home, then faces the road ahead."),
        ),
        "rising": (
            ("{A} trudges on through {place}{with_B} as the way grows harder.",
             "{A} stops to rest and gazes toward {goal} in the distance."),
            ("{A} crosses a narrow, dangerous stretch of {place}{with_B}, one careful step at a time.",
             "{A} makes it across and lets out a shaky laugh."),
        ),
        "climax": (
            ("{hazard}, and {A} struggles to keep going toward {goal}.",
             "{A} pushes through the last of it and reaches {goal} at last."),
        ),
        "resolution": (
            ("{A} stands at {goal}, looking out over everything left behind{with_B}.",
             "{A} breathes in deeply and smiles, the journey complete."),
        ),
    },
    "change": {
        "inciting": (
            ("Something unexpected breaks into the quiet routine of {A} {at_place}{with_B}.",
             "{A} sits down heavily, facing a challenge that can no longer be ignored."),
        ),
        "rising": (
            ("{A} tries, fails and tries again {at_place}{with_B}.",
             "{A} shakes off the frustration and tries once more, a little better this time."),
            ("{A} finds an old memento {at_place} and holds it for a long time.",
             "{A} takes a deep breath and puts it carefully away."),
        ),
        "climax": (
            ("{hazard}, and {A} must face the fear at last.",
             "{A} steps forward, trembling but brave, and does not turn back."),
        ),
        "resolution": (
            ("{A} stands {at_place}{with_B}, changed, with a calm new confidence.",
             "{A} smiles, lighter than before."),
        ),
    },
    "world": {
        "setup": (
            ("{Light} settles over {place} as the day begins.",
             "The camera drifts closer, revealing the small details of life {at_place}."),
        ),
        "inciting": (("A change comes to {place}: {subject}.", "The first signs ripple through {place}."),),
        "rising": (
            ("The change grows stronger across {place}.", "Everything {at_place} seems to hold its breath."),
        ),
        "climax": (("{hazard}.", "{place} is transformed in the most dramatic moment of all."),),
        "resolution": (
            ("Calm returns to {place}, quieter and changed.", "The last light fades softly over {place}."),
        ),
    },
    "unread": {
        "setup": (("The world of the story “{subject}” at rest, before anything happens.",
                   "The camera drifts closer, revealing the place where “{subject}” unfolds."),),
        "inciting": (("The turning point of “{subject}” arrives.",
                      "The characters of “{subject}” react to what has changed."),),
        "rising": (("The story “{subject}” builds as its characters act and the tension grows.",
                    "The tension of “{subject}” rises further."),),
        "climax": (("The climax of “{subject}”: the most intense, decisive moment.",
                    "The decisive moment of “{subject}” plays out."),),
        "resolution": (("The ending of “{subject}”: calm returns.",
                        "A last, lingering image of “{subject}”."),),
    },
}
FILLERS: dict[str, tuple[Moment, ...]] = {
    "setup": (("{A} walks slowly through {place}{with_B}, taking in the familiar sights.",
               "{A} pauses at a favorite spot and smiles faintly."),),
    "inciting": (("{A} stops and stares, realizing that nothing will be the same{with_B}.",
                  "{A} takes a slow breath and steps forward."),),
    "rising": (("{A} pauses to catch a breath {at_place}{with_B}, looking ahead with new resolve.",
                "{A} nods to no one in particular and moves on."),
               ("Night falls over {place}, and {A} rests for a while{with_B}.",
                "{A} wakes at first light, ready to go on."),),
    "climax": (("Everything hangs in the balance as {A} makes a final choice{with_B}.",
                "{A} acts, and the moment breaks."),),
    "resolution": (("{A} walks home through {place}{with_B} as the light softens.",
                    "{A} turns for one last look and smiles."),),
}
CARE = {"sea": "pours bucket after bucket of seawater over {B} to keep it cool and wet",
        "animal": "offers food and fresh water to {B}, moving slowly so as not to frighten it",
        "person": "wraps a warm blanket around {B} and offers a steaming cup",
        "robot": "tightens a loose bolt on {B} and wipes the grime from its casing",
        "creature": "offers food to {B} with a slow, open hand",
        "machine": "polishes the dents out of {B} and patches its worn parts"}
ANIMAL_HERO = {
    # human gestures in the moments, as an animal or creature hero performs them
    "packs a small bag and sets off across": "sets off across",
    "lets out a shaky laugh": "shakes itself off, relieved",
    "unfolds an old map of {place} and traces a path toward {goal}": "sniffs the air {at_place} and turns toward {goal}",
    "folds the map away and sets off with quick, determined steps": "sets off with quick, determined steps",
    "holds it up to the light": "noses it closer",
    "sketches an idea for {goal} at a cluttered table {at_place}": "noses through a pile of odds and ends {at_place}, dreaming of {goal}",
    "looks up from the sketch, eyes bright with excitement": "looks up, eyes bright with excitement",
    "is handed {goal} and an urgent task {at_place}": "finds {goal} {at_place} and picks it up carefully",
    "tucks {goal} safely away": "takes {goal} gently in its mouth",
    "hands over {goal} at last": "sets down {goal} at last",
    "watches it being opened and smiles": "watches it being opened, tail high",
    "finds an old memento {at_place} and holds it for a long time": "finds an old, familiar scent {at_place} and lingers over it",
    "takes a deep breath and puts it carefully away": "takes a deep breath and moves on",
    "cheers with joy": "leaps with joy",
    "laughs, delighted, as everyone gathers around to admire it": "bounds around in delight as everyone gathers to admire it",
    "offers a hand to {B}": "bows its head to {B}",
    "reaches out an open hand": "stretches out a careful paw",
    "wipes away": "shakes off",
    "returns with supplies and works tirelessly": "returns again and again, working tirelessly",
    "gathers materials and starts work on": "gathers twigs and scraps and starts work on",
    "picks up the pieces and starts again": "nudges the pieces together and starts again",
    "adds the final touch and steps back to look": "adds the final touch and sits back to look",
    "works late into the evening on": "works late into the evening on",
    "sits down heavily": "lies down heavily",
}
SEA_ANIMALS = _W("whale dolphin shark seal otter octopus turtle fish goldfish crab penguin kraken mermaid")
STATE_DEFAULT = {"bond": "alone and in trouble", "romance": "", "conflict": ""}
LIGHTS = {
    "setup": ("soft dawn light", "pale early-morning light", "gentle morning light"),
    "inciting": ("bright, clear morning light", "flat gray daylight", "crisp midday light"),
    "rising": ("warm afternoon sunlight", "dappled afternoon light", "golden late-afternoon light"),
    "resolution": ("warm golden sunset light", "soft blue dusk light", "the first light of a calm new dawn"),
}
MOODS = {
    "setup": ("quiet and calm", "still and unhurried", "peaceful but a little lonely"),
    "inciting": ("tense and uncertain", "charged with surprise", "curious and uneasy"),
    "rising": ("warm and hopeful", "focused and determined", "tender and growing"),
    "climax": ("urgent and frightening", "intense and dramatic", "desperate and breathless"),
    "resolution": ("peaceful and tender", "warm and bittersweet", "calm and hopeful"),
}
ROMANCE_MOODS = {"rising": ("warm and giddy", "playful and romantic"), "resolution": ("tender and romantic",)}
CONFLICT_MOODS = {"rising": ("tense and competitive", "fast and breathless"),
                  "resolution": ("tired but triumphant", "calm after the storm")}
CAMERA_MOVES = {
    "wide": ("slowly pushing in", "drifting slowly across the scene", "tilting down from the sky",
             "gliding forward at eye level"),
    "cont": ("following the movement", "pushing in gently", "tracking alongside", "holding steady"),
    "cut": ("holding steady", "slowly pushing in", "panning gently", "handheld and intimate"),
}
CUT_FRAMES = ("Close-up on {X}", "Medium two-shot", "Reaction close-up on {Y}", "Low-angle medium shot",
              "Over-the-shoulder shot", "Wide shot")


@dataclass
class _Shot:
    beat: str
    moment: Moment
    continuation: bool
    frame: str


def _allocate(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, each at least 1 (largest remainder)."""
    k = len(weights)
    base = [1] * k
    rest = total - k
    wsum = sum(weights)
    raw = [rest * w / wsum for w in weights]
    extra = [int(x) for x in raw]
    order = sorted(range(k), key=lambda i: (-(raw[i] - extra[i]), i))
    for i in order[: rest - sum(extra)]:
        extra[i] += 1
    return [b + e for b, e in zip(base, extra)]


def _scene_count(shots: int) -> int:
    return 3 if shots <= 5 else 4 if shots <= 11 else 5


class _Writer:
    """Writes one plan from a premise (one instance per plan; holds the random generator)."""

    def __init__(self, premise: Premise, characters: list[Character], seeds: list[Seed],
                 style: str | None, rng: random.Random) -> None:
        self.p = premise
        self.chars = characters
        self.seeds = seeds
        self.style = style
        self.rng = rng
        self.category = premise.relation if premise.readable else "unread"
        if self.category not in MOMENTS:
            self.category = "journey"
        self.places = self._places()

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
        return scenes

    def _moments(self, beat: str, count: int) -> list[Moment]:
        """``count`` moments for ``beat``, in story order: a subset of the category's moments, then
        generic ones, then repeats (only for very long films)."""
        plain = self.category in ("world", "unread")
        if beat == "setup" and not plain:
            pool = list(SETUP)
        else:
            pool = list(MOMENTS[self.category].get(beat) or MOMENTS["journey"][beat])
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
                prompt, names = self._prompt(shot, place, routine, carry)
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

    def _prompt(self, shot: _Shot, place: tuple[str, str], routine: str, carry: list[str]) -> tuple[str, list[str]]:
        """One shot's prompt and cast; ``carry``: characters of the previous shot that a continuation
        must keep in frame (it starts from that shot's last frame)."""
        rng = self.rng
        action = shot.moment[1] if shot.continuation else shot.moment[0]
        action = self._extras(action, shot.beat)
        light = self._light(shot.beat)
        mood = self._mood(shot.beat)
        sentences = []
        if shot.frame == "wide" and "{Light}" not in action and self.category != "unread":
            opener = _pick(rng, ("{Light} falls across {view}.", "{Light} washes over {view}.",
                                 "{view}, in {light}."))
            sentences.append(opener)
        action = self._fill(action, place, light, routine)
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
        text = self._fill(" ".join(sentences), place, light, routine)
        text, names = self._characters(text)
        return _tidy(text), names

    def _light(self, beat: str) -> str:
        if beat == "climax":
            return self.p.setting.climax_light
        return _pick(self.rng, LIGHTS[beat])

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
        extra = self.chars[first:]
        if not extra or beat not in ("rising", "climax", "resolution") or "{A}" not in text:
            return text
        who = _join(["{" + "ABCD"[first + i] + "}" for i in range(len(extra))])
        clause = {"rising": f" while {who} keep watch nearby" if len(extra) > 1 else f" while {who} keeps watch nearby",
                  "climax": f" as {who} rush to help" if len(extra) > 1 else f" as {who} rushes to help",
                  "resolution": f", and {who} join them" if len(extra) > 1 else f", and {who} joins them"}[beat]
        return text[:-1] + clause + "." if text.endswith(".") else text + clause

    def _fill(self, text: str, place: tuple[str, str], light: str, routine: str) -> str:
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
        goal_bare = re.sub(r"^(the|a|an|his|her|their|its)\s+", "", goal, flags=re.IGNORECASE)
        hazard = p.setting.hazard
        subject = p.logline.rstrip(".!?。！？")
        if self.category == "world":
            subject = subject[:1].lower() + subject[1:] if subject[:2].isalpha() and not subject[1:2].isupper() else subject
        values = {
            "with_B": with_b, "place": phrase, "at_place": f"{prep} {phrase}", "view": view, "light": light, "Light": light[:1].upper() + light[1:],
            "routine": routine if a_kind else routine, "care": CARE[care_kind], "state": state,
            "goal": goal, "goal_bare": goal_bare, "hazard": hazard, "hazard_short": p.setting.hazard_short,
            "subject": subject,
        }
        # two passes: {care} and {with_B} bring {A}/{B} placeholders of their own
        for _ in range(2):
            text = re.sub(r"\{(with_B|place|at_place|view|light|Light|routine|care|state|goal|goal_bare|hazard|"
                          r"hazard_short|subject)\}",
                          lambda m: values[m.group(1)], text)
        return text

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


# ================================================================================================
# The planner
# ================================================================================================


class OfflinePlanner:
    """The embedded default planner: deterministic, no model. Name ``offline``."""

    name = "offline"

    def __init__(self, style: str | None = None, *, default_shots: int = DEFAULT_SHOTS) -> None:
        self.style = clean_style(style)
        self.default_shots = check_shots(default_shots) or DEFAULT_SHOTS

    def plan(self, logline: str, *, shots: int | None = None, style: str | None = None) -> Plan:
        """Bible first, then the script, for ``logline`` (see the module docstring)."""
        logline = clean_logline(logline)
        total = check_shots(shots) or self.default_shots
        style = clean_style(style) or self.style
        premise = read_logline(logline)
        seed_int = int.from_bytes(hashlib.sha256(f"{logline}|{total}|{style}".encode()).digest()[:8], "big")
        rng = random.Random(seed_int)
        taken: set[str] = set()
        worn: set[str] = set()
        characters = [_character(s, rng, taken, worn, style or "cinematic realism") for s in premise.seeds]
        writer = _Writer(premise, characters, premise.seeds, style, rng)
        script, cast = writer.write(total)
        try:
            return Plan(script=script, bible=Bible(characters=characters, cast=cast))
        except ValueError as err:  # a bug, not a user error: still one line
            raise PlannerError(f"offline planner produced an invalid plan ({' '.join(str(err).split())[:300]})") from err
