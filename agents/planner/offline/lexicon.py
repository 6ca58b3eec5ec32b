"""The offline planner's lexicon: the word lists and data tables it reads loglines with and invents
characters from.

Character nouns (people, animals, creatures, robots, machines) and what they look like and wear,
adjectives by what they tell (age, state, looks, traits), words that are never characters, places
or goals, titles and given names, hair, builds, faces and ages by age group, and the relation
categories by verb. Pure data: no logic beyond building the tables.
"""

from __future__ import annotations

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
    "husband wife boyfriend girlfriend fiance fiancee widower spouse partner thug bandit robber crook "
    "gangster outlaw smuggler safecracker dogcatcher poacher swindler con-artist mobster mate"
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
    "dog": "a scruffy golden terrier dog with one floppy ear and bright brown eyes",
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
    "swan": "a graceful white swan with a long curved neck and an orange bill",
    "leopard": "a spotted golden leopard with pale green eyes",
    "snow leopard": "a snow leopard with thick smoky-gray fur, dark rosettes and a long bushy tail",
    "hen": "a speckled brown hen with a red comb",
    "zebra": "a striped zebra with a short bristling mane",
    "hippo": "a round gray hippo with small ears",
    "crocodile": "a long green crocodile with a ridged back",
    "kangaroo": "a sandy-brown kangaroo with a long thick tail",
    "flamingo": "a pink flamingo standing on one thin leg",
    "hawk": "a red-tailed hawk with sharp yellow eyes",
    "falcon": "a slate-gray falcon with a black-streaked face",
    "salmon": "a silver salmon with a pink-flecked belly",
    "bison": "a massive brown bison with a shaggy hump",
    "badger": "a stout badger with a black-and-white striped face",
    "hare": "a lean brown hare with long black-tipped ears",
    "lynx": "a gray lynx with tufted ears and a short tail",
    "puffin": "a puffin with a bright orange-striped beak",
    "seagull": "a white seagull with gray wings and a yellow beak",
    "gull": "a white gull with gray wings and a yellow beak",
    "cheetah": "a lean cheetah with black tear-lines down its face",
    "rhino": "a heavy gray rhino with two curved horns",
}
YOUNG_ANIMALS = {"puppy": "dog", "kitten": "cat", "cub": "bear", "calf": "cow", "foal": "horse",
                 "chick": "chicken", "duckling": "duck", "piglet": "pig", "lamb": "sheep",
                 "fawn": "deer", "joey": "kangaroo", "tadpole": "frog", "bunny": "rabbit", "hatchling": "turtle",
                 "pup": "seal", "kit": "fox", "owlet": "owl", "cygnet": "swan", "eaglet": "eagle"}
KIN = _W("mother father mom mum dad mama papa mate calf cub pup chick baby babies family parents parent "
         "sibling siblings brother sister son daughter twin offspring young partner grandmother grandfather")
"""Family words: beside an animal hero (``its mother``, ``her calf``) they are animals of its kind."""
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
    "wizard": "a long deep-indigo robe with silver stars and a pointed hat",
    "witch": "a long black dress, a patched cloak and a pointed hat",
    "mage": "a long deep-indigo robe with silver embroidery",
    "farmer": "faded denim overalls, a plaid shirt and a straw hat",
    "pilot": "a brown leather flight jacket and aviator goggles",
    "musician": "a black shirt with rolled sleeves and a worn leather guitar strap",
    "pianist": "a black concert suit and a loosened bow tie",
    "violinist": "a dark velvet dress-coat and a cream scarf",
    "singer": "a sequined deep-indigo jacket",
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
    "safecracker": "a charcoal turtleneck, a tool roll and a stethoscope around the neck",
    "thug": "a black leather jacket and a knitted cap",
    "dogcatcher": "a khaki uniform with a net on a long pole",
    "florist": "a green canvas apron with shears in the pocket",
    "journalist": "a rumpled trench coat and a notebook in hand",
    "clockmaker": "a leather apron and a jeweler's loupe on a cord",
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


ACCESSORIES = ("a red neckerchief", "a yellow bandana", "round tortoiseshell glasses", "a green knitted scarf",
               "a silver pocket watch on a chain", "a blue beret")
ANIMAL_ROUTINES = ("wanders slowly about, sniffing the air", "rests in a patch of light, watching the world go by")

# Relation categories, by verb stems (first match in the verb phrase wins, then the whole logline).
RELATIONS = (
    ("romance", "love fall falls fell date dates marry marries kiss kisses court courts woo romance crush"),
    ("conflict", "fight fights battle battles duel duels defeat defeats outwit outwits race races compete competes "
     "rival rivals hunt hunts chase chases confront confronts challenge challenges against steal steals rob robs "
     "stop stops battle escape escapes flee flees outrun outruns defend defends guard guards"),
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
