"""Beats and moments: the five beats, how they group into scenes, what happens in each beat per
relation category, and the light, mood and camera words of the shot grammar."""

from __future__ import annotations

from dataclasses import dataclass

from agents.planner.offline.lexicon import _W

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
LEARNING: Moment = ("{A} tries to {skill} {at_place}{with_B}, fails, and tries again.",
                     "{A} gets it right at last and looks up, proud.")
"""The rising action of a logline that says the hero learns something (``learns to fish``)."""
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
            ("{A} and {B} rest side by side {at_place}, friends at last, as calm returns.",
             "{A} smiles and reaches out gently toward {B}, friends now."),
            ("{A} and {B} share one last long look {at_place}, together.",
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
            ("{A} and {B} face off in a final showdown{over_goal} while {hazard_short}.",
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
            ("{A} and {B} sit together {at_place}, hand in hand, as the world goes quiet.",
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
            ("{A} works long hours on {goal}{with_B}, bent close over every detail.",
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
    "heist": {
        "setup": (
            ("{A} studies a blueprint of {target} spread out {at_place}{with_B}, planning the heist.",
             "{A} taps the blueprint where the vault lies and looks up with a sly smile."),
            ("{A} watches {target} from across the way{with_B}, counting the guards and planning the heist.",
             "{A} notes the guards' rounds in a small notebook."),
        ),
        "inciting": (
            ("{A} slips into {target}{with_B}, blending in with the crowd as the heist begins.",
             "{A} glances up at a security camera and keeps moving, calm."),
            ("{A} cuts the wires of the alarm{with_B}, and the heist begins.",
             "{A} checks a watch: the heist is under way."),
        ),
        "rising": (
            ("{A} kneels at the vault door{with_B}, ear pressed to the dial.",
             "The vault door swings open on {loot}, and {A} grins."),
            ("A guard turns the corner, and {A} freezes in the shadows{with_B}.",
             "The guard walks on, and {A} breathes again."),
            ("{A} edges along a narrow ledge above the vault{with_B}.",
             "{A} drops silently to the floor and listens."),
        ),
        "climax": (
            ("The alarm blares as {hazard_short}, and {A} races for the exit with {loot}{with_B}.",
             "{A} dives into the getaway van as the doors slam shut."),
        ),
        "resolution": (
            ("{A} lays {loot} out in a quiet hideout{with_B}, the heist complete.",
             "{A} leans back and laughs, the getaway clean."),
        ),
    },
    "chase": {
        "setup": (
            ("{A} {routine} {at_place}{with_B}, unaware of what is coming.",
             "{A} stops and glances back, suddenly uneasy."),
        ),
        "inciting": (
            ("{Pursuer} appears across {place}, and {A} bolts{vehicle_on}.",
             "{A} runs flat out{vehicle_on}, {pursuer} close behind, and the chase is on."),
        ),
        "rising": (
            ("{A} races through {place}{vehicle_on} as {pursuer} closes in.",
             "{A} swerves around a corner and gains a few precious steps."),
            ("{A} hides {at_place}, holding perfectly still as {pursuer} passes by.",
             "{A} slips out the other way, heart pounding."),
            ("{A} leaps across a gap {at_place}{vehicle_on}, {pursuer} still in pursuit.",
             "{A} lands hard and keeps going."),
        ),
        "climax": (
            ("{Pursuer} corners {A} {at_place} as {hazard_short}.",
             "With one bold leap {A} escapes the chase at last."),
        ),
        "resolution": (
            ("{A} reaches {refuge}{with_B}, safe at last, the chase over.",
             "{A} looks back along the empty way and breathes out."),
        ),
    },
    "mystery": {
        "setup": (
            ("{A} arrives {at_place}{with_B} as word spreads of {mystery}.",
             "{A} surveys the scene, eyes narrowing."),
        ),
        "inciting": (
            ("{A} finds the first clue {at_place}{with_B}: a torn scrap and a muddy footprint.",
             "{A} studies the clue closely through a magnifying glass."),
        ),
        "rising": (
            ("{A} questions a nervous witness {at_place}{with_B} about {mystery}.",
             "The witness looks away, hiding something."),
            ("{A} pins the evidence to a wall{with_B} and traces the threads between the clues.",
             "{A} stops, struck by a sudden thought."),
            ("{A} follows a trail of small clues through {place}{with_B}.",
             "{A} crouches over the last clue and nods slowly."),
        ),
        "climax": (
            ("{A} confronts the culprit {at_place} as {hazard_short}{with_B}.",
             "The truth is revealed at last, and the culprit falls silent."),
        ),
        "resolution": (
            ("{A} closes the case of {mystery} {at_place}{with_B}.",
             "{A} allows a small, satisfied smile, the mystery solved."),
        ),
    },
    "nature": {
        "setup": (
            ("{A} stirs {at_place}{with_B}{season_clause}, as the wild wakes around it.",
             "{A} lifts its head, alert to every sound."),
            ("{A} forages {at_place}{with_B}{season_clause}, following its instinct.",
             "{A} pauses, listening to the wild."),
        ),
        "inciting": (
            ("An old instinct stirs, and {A} sets out across {place}{with_B}{toward_goal}.",
             "{A} moves steadily on, keeping the young close."),
        ),
        "rising": (
            ("{A} leads the way through {place}{with_B}, deep into the wild.",
             "{A} stops to rest, watchful."),
            ("{A} drinks at a cold stream {at_place}{with_B}.",
             "{A} lifts its head and moves on, following its instinct."),
        ),
        "climax": (
            ("{hazard}, and {A} holds its ground{with_B}.",
             "{A} pushes through the worst of it, driven by instinct."),
        ),
        "resolution": (
            ("{A} rests {at_place}{with_B}{season_clause}, the long journey done.",
             "{A} settles down as the wild grows still."),
        ),
    },
    "hunt": {
        "setup": (
            ("{A} stirs {at_place}{with_B} as the wild wakes around it.",
             "{A} lifts its head and tests the air for the scent of prey."),
        ),
        "inciting": (
            ("{A} spots {B} {at_place} and crouches low, the hunt begun.",
             "{A} creeps forward, silent, every muscle tense."),
        ),
        "rising": (
            ("{A} stalks {B} through {place}{with_B}, following its instinct.",
             "{B} lifts its head, sensing danger, and {A} freezes."),
            ("{A} circles wide around {B} {at_place}, keeping downwind.",
             "{A} edges closer, step by careful step."),
        ),
        "climax": (
            ("{A} bursts from cover and the chase is on, {B} racing ahead as {hazard_short}.",
             "{A} closes the gap in a burst of speed."),
        ),
        "resolution": (
            ("{A} rests {at_place}, the hunt over and the wild quiet again.",
             "{A} settles down and closes its eyes."),
        ),
    },
    "world": {
        "setup": (
            ("{Light} settles over {place}.",
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
               ("{A} rests for a while {at_place}{with_B}, gathering strength.",
                "{A} gets up, ready to go on."),),
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
    "works long hours on": "works long hours on",
    "spreads out {at_place}": "{at_place}",
    "studies a blueprint of {target} spread out {at_place}": "peers at {target} from a hiding place {at_place}",
    "taps the blueprint where the vault lies and looks up with a sly smile": "licks its lips, eyes on the prize",
    "counting the guards and planning the heist": "planning the heist",
    "notes the guards' rounds in a small notebook": "watches every movement, perfectly still",
    "slips into {target}": "creeps toward {target}",
    "blending in with the crowd as the heist begins": "low to the ground as the heist begins",
    "glances up at a security camera and keeps moving, calm": "freezes as someone walks past, then creeps on",
    "cuts the wires of the alarm": "knocks the lid off a tin",
    "checks a watch: the heist is under way": "darts forward: the heist is under way",
    "kneels at the vault door": "noses at the fastening of {loot}",
    "ear pressed to the dial": "working at it with nimble paws",
    "The vault door swings open on {loot}, and {A} grins": "{loot} falls open, and {A} dives in",
    "freezes in the shadows": "freezes behind a bush",
    "races for the exit with {loot}": "scurries off with a mouthful of {loot_bare}",
    "dives into the getaway van as the doors slam shut": "dives into the undergrowth, the getaway complete",
    "lays {loot} out in a quiet hideout": "shares out the spoils in a hidden den",
    "leans back and laughs, the getaway clean": "curls up, content, the getaway clean",
    "confronts the culprit": "faces the culprit",
    "pins the evidence to a wall": "lays the evidence out in a row",
    "questions a nervous witness": "watches a nervous witness",
    "sits down heavily": "lies down heavily",
}
SEA_ANIMALS = _W("whale dolphin shark seal otter octopus turtle fish goldfish crab penguin kraken mermaid")
STATE_DEFAULT = {"bond": "alone and in trouble", "romance": "", "conflict": ""}
TIMES = ("dawn", "morning", "midday", "afternoon", "sunset", "dusk", "night")
LIGHT_BY_TIME = {
    # every phrase names its time of day, and no other one: a scene keeps its light in every shot
    "dawn": ("soft dawn light", "the pale light of dawn", "rosy sunrise light"),
    "morning": ("clear morning light", "fresh morning light", "bright morning sun"),
    "midday": ("harsh midday sun", "bright midday light", "flat noon light"),
    "afternoon": ("warm afternoon sunlight", "golden late-afternoon light", "hazy afternoon light"),
    "sunset": ("warm sunset glow", "amber sunset light", "low red sunset light"),
    "dusk": ("soft blue dusk light", "fading twilight", "the violet light of dusk"),
    "night": ("cold blue moonlight", "silver moonlight", "the dim glow of lamps in the night"),
}
AT_TIME = {"dawn": "at dawn", "morning": "in the morning", "midday": "at midday", "afternoon": "in the afternoon",
           "sunset": "at sunset", "dusk": "at dusk", "night": "at night"}
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
