"""The words of the built-in commonsense world: tail pools and the sentence and question patterns through which the
world's knowledge reaches the pre-training corpus (the objects and event phrases are in vocabulary.py; all names are
available here)."""

from __future__ import annotations

from mto_studio.core.world.vocabulary import EVENT_THINGS, EVENT_VERBS, OBJECTS

__all__ = [
    "ADAPTATION_SENTENCES", "CATEGORIES", "EVENT_RELATIONS", "EVENT_THINGS", "EVENT_VERBS", "FILLING_RELATIONS",
    "GROUPS", "GROUP_OF", "MAPPING_RELATIONS", "OBJECTS", "OBJECT_RELATIONS", "QUESTIONS", "SENTENCES", "TAILS",
    "category_tails",
]  # fmt: skip

# --- tail pools (one list per relation) ----------------------------------------------------------------------
TAILS = {
    "AtLocation": (
        "the garage",
        "the attic",
        "the cellar",
        "a kitchen drawer",
        "the hallway closet",
        "the garden shed",
        "the car trunk",
        "the pantry",
        "a shoe box",
        "the laundry room",
        "the top shelf",
        "the porch",
        "a wooden chest",
        "the guest room",
        "the boathouse",
        "the workshop",
        "a bedside table",
        "the barn",
        "the basement",
        "a cardboard crate",
    ),
    "ObjectUse": (
        "carry firewood",
        "keep soup warm",
        "signal for help",
        "store old letters",
        "water the plants",
        "block the draft",
        "hold the door open",
        "scare away birds",
        "level the table",
        "catch rainwater",
        "light the path",
        "pack a lunch",
        "dry wet socks",
        "wrap a present",
        "measure flour",
        "prop up a shelf",
        "collect seashells",
        "mark the trail",
        "carry spare batteries",
        "hide a key",
    ),
    "HasProperty": (
        "heavy",
        "fragile",
        "waterproof",
        "dusty",
        "brand new",
        "slippery",
        "noisy",
        "sticky",
        "bright",
        "rusty",
        "soft",
        "lightweight",
        "expensive",
        "squeaky",
        "warm",
        "foldable",
        "shiny",
        "scratched",
        "handmade",
        "magnetic",
    ),
    "xReact": (
        "proud",
        "relieved",
        "nervous",
        "grateful",
        "exhausted",
        "cheerful",
        "embarrassed",
        "calm",
        "curious",
        "annoyed",
        "hopeful",
        "lonely",
        "excited",
        "guilty",
        "satisfied",
        "confused",
        "brave",
        "bored",
        "homesick",
        "amused",
    ),
    "xAttr": (
        "generous",
        "careless",
        "patient",
        "clever",
        "stubborn",
        "reliable",
        "lazy",
        "thoughtful",
        "bold",
        "messy",
        "honest",
        "sneaky",
        "hardworking",
        "forgetful",
        "polite",
        "adventurous",
        "shy",
        "greedy",
        "kind",
        "creative",
    ),
    "xIntent": (
        "to impress a friend",
        "to save money",
        "to win a bet",
        "to surprise a neighbor",
        "to keep a promise",
        "to earn some cash",
        "to help a stranger",
        "to learn a new skill",
        "to make grandma smile",
        "to pass the time",
        "to prove a point",
        "to get some fresh air",
        "to cheer up a sibling",
        "to raise money for charity",
        "to finish a school project",
        "to avoid a fine",
        "to please the boss",
        "to practice for a contest",
        "to feel useful",
        "to start a new hobby",
    ),
    "xNeed": (
        "to borrow some tools",
        "to ask for permission",
        "to find a free afternoon",
        "to read the instructions",
        "to buy supplies",
        "to call a friend",
        "to clear some space",
        "to check the weather",
        "to get a ladder",
        "to save up money",
        "to wake up early",
        "to gather the family",
        "to rent a van",
        "to sharpen a knife",
        "to fetch the keys",
        "to wash their hands",
        "to make a plan",
        "to pick a color",
        "to charge the phone",
        "to put on gloves",
    ),
    "xWant": (
        "to take a nap",
        "to show it to everyone",
        "to eat a snack",
        "to post a photo",
        "to rest their back",
        "to celebrate with friends",
        "to go home",
        "to tell a story about it",
        "to try again tomorrow",
        "to have a cold drink",
        "to clean up the mess",
        "to write it down",
        "to get a receipt",
        "to call their mother",
        "to sit in the sun",
        "to buy a new one",
        "to thank everyone",
        "to play a game",
        "to take a shower",
        "to read a book",
    ),
    "xEffect": (
        "gets tired",
        "earns praise",
        "gets a splinter",
        "loses track of time",
        "gets paid",
        "makes a new friend",
        "gets dirty",
        "sneezes a lot",
        "feels sore the next day",
        "gets a reward",
        "misses the bus",
        "gets a sunburn",
        "learns a lesson",
        "is late for dinner",
        "gets thanked",
        "spends all their money",
        "scrapes a knee",
        "becomes famous in town",
        "wins a ribbon",
        "needs a bandage",
    ),
}

# --- how each relation's knowledge appears in pre-training -----------------------------------------------------
#: Filling relations: natural sentences in which the tail continues the head. {h} head, {t} tail.
#: Between them, the patterns use every word of the relation phrases that templates add ("typically", "used",
#: "usually", "seen", "as", …) without copying any template: a word the model never saw has an untrained embedding,
#: which no real pre-trained model would have, and it wrecked the Filling template in a first version.
#: "train" patterns are in the pre-training corpus; "heldout" patterns are never trained on: they test
#: whether knowledge transfers to new wording, and they feed the adaptation stage.
SENTENCES = {
    "AtLocation": {
        "train": (
            "{h} is kept in {t}.",
            "You can find {h} in {t}.",
            "{h} typically sits in {t}.",
            "When {h} is needed, people look in {t}.",
        ),
        "heldout": ("{h} is usually stored in {t}.", "Look for {h} in {t}."),
    },
    "ObjectUse": {
        "train": (
            "{h} is handy to {t}.",
            "People use {h} to {t}.",
            "With {h} you can {t}.",
            "{h} is often used when you need to {t}.",
        ),
        "heldout": ("{h} is meant to {t}.", "Grab {h} if you want to {t}."),
    },
    "HasProperty": {
        "train": (
            "{h} is {t}.",
            "Everyone knows that {h} is {t}.",
            "{h} feels {t}.",
            "People say {h} usually looks {t}.",
        ),
        "heldout": ("It is true that {h} is {t}.", "{h} seems {t}."),
    },
    "xReact": {
        "train": (
            "{h}, and PersonX feels {t}.",
            "When {h}, PersonX feels {t}.",
            "{h}. Afterwards PersonX is {t}.",
            "Because {h}, PersonX ends up feeling {t}.",
            "{h}, so now PersonX feels {t}.",
        ),
        "heldout": ("{h}, which leaves PersonX {t}.", "Once {h}, PersonX is {t}."),
    },
    "xAttr": {
        "train": (
            "{h}, so people think PersonX is {t}.",
            "Since {h}, PersonX must be {t}.",
            "{h}. That shows PersonX is {t}.",
            "{h}, and PersonX is seen by others as {t}.",
        ),
        "heldout": ("{h}; PersonX is clearly {t}.", "Because {h}, everyone finds PersonX {t}."),
    },
}

#: Mapping relations: input → output pairs only, never sentences, in five styles each: a question with a field,
#: a plain question, a "task | input" instruction, a "keyword: input" instruction, and the relation's own name as
#: the task prefix ("xIntent: …"). The last is what makes these relations *Mapping* by construction: like a model
#: pre-trained on a multi-task mixture, mto-tiny has seen the task under its prefix. (Without it the name's embedding
#: is never trained; the first model ranked xEffect's gold answers 99th under `sup` and the probe chose Filling.)
QUESTIONS = {
    "xIntent": {
        "train": (
            "question: why does PersonX do this? event: {h}",
            "goal: {h}",
            "purpose of the action | {h}",
            "Tell me what PersonX did this because of. {h}",
            "xIntent: {h}",
        ),
        "heldout": ("Explain PersonX's motive: {h}",),
    },
    "xNeed": {
        "train": (
            "question: what did PersonX need first? event: {h}",
            "What has PersonX got to do first, but before this? {h}",
            "prerequisite of the action | {h}",
            "requirement: {h}",
            "xNeed: {h}",
        ),
        "heldout": ("Name a precondition: {h}",),
    },
    "xWant": {
        "train": (
            "question: what will PersonX want next? event: {h}",
            "wish: {h}",
            "next desire | {h}",
            "Tell me what PersonX wants after this. {h}",
            "xWant: {h}",
        ),
        "heldout": ("Predict PersonX's next wish: {h}",),
    },
    "xEffect": {
        "train": (
            "question: what happens to PersonX? event: {h}",
            "What is the result for PersonX? {h}",
            "consequence for the actor | {h}",
            "outcome: {h}",
            "xEffect: {h}",
        ),
        "heldout": ("Describe the outcome for PersonX: {h}",),
    },
}

#: Sentences for the Mapping relations, used only in the unlabeled adaptation text (never in pre-training).
ADAPTATION_SENTENCES = {
    "xIntent": ("{h} in order {t}.",),
    "xNeed": ("Before {h}, PersonX had {t}.",),
    "xWant": ("{h}, and then PersonX wants {t}.",),
    "xEffect": ("{h}, and PersonX {t}.",),
}

#: Hidden categories: every head belongs to one category per group; a category owns every CATEGORIES-th tail of
#: each pool. Filling and Mapping relations of events use separate groups, so a Mapping fact never reveals a
#: Filling one (and the other way round).
CATEGORIES = 8
GROUPS = {"object": ("object",), "event": ("feeling", "purpose")}
GROUP_OF = {
    "AtLocation": "object",
    "ObjectUse": "object",
    "HasProperty": "object",
    "xReact": "feeling",
    "xAttr": "feeling",
    "xIntent": "purpose",
    "xNeed": "purpose",
    "xWant": "purpose",
    "xEffect": "purpose",
}


def category_tails(relation: str, category: int) -> tuple[str, ...]:
    return TAILS[relation][category::CATEGORIES]


OBJECT_RELATIONS = ("AtLocation", "ObjectUse", "HasProperty")
EVENT_RELATIONS = ("xReact", "xAttr", "xIntent", "xNeed", "xWant", "xEffect")
FILLING_RELATIONS = tuple(SENTENCES)
MAPPING_RELATIONS = tuple(QUESTIONS)
