"""The goal objects an instruction can name, and how it names them.

A navigation step drives to one target: an object kind ("cup", "ball", "bottle",
"cone", "crate"), optionally with a colour ("the blue ball") and a place that tells it
from others of its kind ("the ball on the left", "the nearest cup"). Each kind has the words
that name it (a synonym names the same kind: "mug" is a cup, "sphere" a ball). Which
kinds a policy can find comes from its checkpoint (``PolicyConfig.objects``), never from
a copy here: the planner refuses a kind the policy was not trained on, naming the ones
it knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Object kinds, each with the words that name it (the first is the kind's name).
KINDS: dict[str, tuple[str, ...]] = {
    'cup': ('cup', 'cups', 'mug', 'mugs'),
    'ball': ('ball', 'balls', 'sphere', 'spheres', 'orb', 'orbs'),
    'bottle': ('bottle', 'bottles', 'flask', 'flasks'),
    'cone': ('cone', 'cones', 'pylon', 'pylons'),
    'crate': ('crate', 'crates'),
}
#: Colour words a target may carry.
COLOURS: tuple[str, ...] = ('red', 'orange', 'yellow', 'green', 'blue', 'purple', 'white',
                            'black')
#: Colour words an instruction may use that are none of ``COLOURS``: a target with one
#: is refused, naming the colours there are (never driven to as if no colour were said).
OTHER_COLOURS: tuple[str, ...] = ('pink', 'brown', 'grey', 'gray', 'cyan', 'magenta',
                                  'violet', 'beige', 'gold', 'golden', 'silver', 'turquoise',
                                  'maroon', 'navy', 'teal', 'lime', 'indigo', 'tan')
#: Words that mean "the goal" without naming a kind: the policy's own goal.
GENERIC: frozenset[str] = frozenset({'goal', 'target'})

_KIND_OF = {word: kind for kind, words in KINDS.items() for word in words}
_TARGET = re.compile(r'\b(?:(?P<colour>' + '|'.join(COLOURS) + r')\s+)?(?P<word>'
                     + '|'.join(sorted(_KIND_OF, key=len, reverse=True)) + r')\b')
#: An object after one of these words is a landmark on the way ("go around the crate to
#: the cup", "the cup behind the ball"), not a target.
_LANDMARK = re.compile(r'\b(?:past|around|round|behind|near|between|by|beside|beyond|over|'
                       r'under|along|alongside|after|next\s+to|close\s+to|in\s+front\s+of)'
                       r'\s+(?:(?:the|a|an|those|these|two|both|some|its|their)\s+)?$')
_OTHER_COLOUR = re.compile(r'\b(?P<colour>' + '|'.join(OTHER_COLOURS) + r')(?:\s+\w+)?\s+(?:'
                           + '|'.join(sorted(_KIND_OF, key=len, reverse=True)) + r')\b')
#: Place words that pick one of several objects of a kind, by the word's meaning:
#: ``left`` / ``right`` of the robot's way, or ``nearest`` / ``farthest`` from it.
PLACES: dict[str, tuple[str, ...]] = {
    'left': ('left', 'leftmost', 'left-hand'),
    'right': ('right', 'rightmost', 'right-hand'),
    'nearest': ('nearest', 'closest', 'nearer', 'closer'),
    'farthest': ('farthest', 'furthest', 'farther', 'further'),
}
_PLACE_OF = {word: place for place, words in PLACES.items() for word in words}
_WORDS = '|'.join(sorted(_PLACE_OF, key=len, reverse=True))
#: "the nearest ball", "the left red cup": a place word just before the target.
_PLACE_BEFORE = re.compile(r'\b(?P<word>' + _WORDS + r')\s+(?:one\s+of\s+the\s+)?$')
#: "the ball on the left", "the cup that is on the right side", "the cup to the left",
#: "the ball nearest to you", "the cup closest to the robot": just after the target.
_PLACE_AFTER = re.compile(r'^\s+(?:(?:that|which)\s+is\s+)?(?:(?:on|to|at)\s+the\s+'
                          r'(?P<side>left|right)\b(?:[\s-]+hand)?(?:\s+side)?|'
                          r'(?P<word>' + _WORDS + r')(?:\s+(?:to|from)\s+(?:you|me|us|'
                          r'the\s+robot|it)\b|\s*(?:$|[,.;:!?]|\b(?:then|and)\b)))')
#: Every word that names an object kind.
OBJECT_WORDS: frozenset[str] = frozenset(_KIND_OF)


@dataclass(frozen=True)
class Target:
    """What a navigation step drives to: a kind, and the colour if the words give one."""

    kind: str
    colour: str = ''
    place: str = ''  # one of PLACES, or '' when the words give none

    def describe(self) -> str:
        what = f'{self.colour} {self.kind}'.strip()
        if self.place in ('left', 'right'):
            return f'{what} on the {self.place}'
        return f'{self.place} {what}'.strip()

    def same_as(self, other: Target) -> bool:
        """Whether both can be one object: the same kind, and no colour or place that
        differs ("the cup" and "the red cup" are one; "the red cup" and "the blue cup",
        or "the cup on the left" and "the cup on the right", two)."""
        return self.kind == other.kind and all(
            not a or not b or a == b for a, b in ((self.colour, other.colour),
                                                  (self.place, other.place)))

    def merged(self, other: Target) -> Target:
        """One object described in two places ("the cup ... the red cup on the left"):
        the colour and the place either gives."""
        return Target(self.kind, self.colour or other.colour, self.place or other.place)

    def to_dict(self) -> dict[str, str]:
        """As ``vla/status`` carries it, with ``text`` for people ("ball on the left")."""
        return {'kind': self.kind, 'colour': self.colour, 'place': self.place,
                'text': self.describe()}


def targets_in(text: str) -> list[Target]:
    """The distinct targets ``text`` (lower case) names, in order: "the red ball and the
    cup" names two; "the cup behind the ball" one (the ball is a landmark); "the ball on
    the left" and "the nearest cup" carry their place."""
    found: list[Target] = []
    for m in _TARGET.finditer(text):
        if _LANDMARK.search(text[:m.start()]):
            continue
        target = Target(_KIND_OF[m.group('word')], m.group('colour') or '',
                        place_of(text[:m.start()], text[m.end():]))
        same = next((i for i, t in enumerate(found) if t.same_as(target)), None)
        if same is None:
            found.append(target)
        else:  # "the cup ... the red cup": the colour (or the place) is the cup's
            found[same] = target.merged(found[same])
    return found


def place_of(before: str, after: str) -> str:
    """The place words around a target: just before it ("the nearest ", "the left ")
    or just after it (" on the left", " closest to you"); '' when none."""
    m = _PLACE_BEFORE.search(before)
    if m:
        return _PLACE_OF[m.group('word')]
    m = _PLACE_AFTER.match(after)
    if m:
        return m.group('side') or _PLACE_OF[m.group('word')]
    return ''


def unknown_colours(text: str) -> list[str]:
    """Colour words of ``text`` (lower case) on a target that are none of ``COLOURS``:
    "the pink ball" gives ['pink']."""
    return [m.group('colour') for m in _OTHER_COLOUR.finditer(text)]
