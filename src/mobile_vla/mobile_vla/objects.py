"""The goal objects an instruction can name, and how it names them.

A navigation step drives to one target: an object kind ("cup", "ball", "bottle",
"cone", "crate"), optionally with a colour ("the blue ball"). Each kind has the words
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
    'ball': ('ball', 'balls', 'sphere', 'spheres'),
    'bottle': ('bottle', 'bottles'),
    'cone': ('cone', 'cones'),
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
_OTHER_COLOUR = re.compile(r'\b(?P<colour>' + '|'.join(OTHER_COLOURS) + r')(?:\s+\w+)?\s+(?:'
                           + '|'.join(sorted(_KIND_OF, key=len, reverse=True)) + r')\b')
#: Every word that names an object kind.
OBJECT_WORDS: frozenset[str] = frozenset(_KIND_OF)


@dataclass(frozen=True)
class Target:
    """What a navigation step drives to: a kind, and the colour if the words give one."""

    kind: str
    colour: str = ''

    def describe(self) -> str:
        return f'{self.colour} {self.kind}'.strip()

    def to_dict(self) -> dict[str, str]:
        return {'kind': self.kind, 'colour': self.colour}


def targets_in(text: str) -> list[Target]:
    """The distinct targets ``text`` (lower case) names, in order: "the red ball and the
    cup" names two."""
    found: list[Target] = []
    for m in _TARGET.finditer(text):
        target = Target(_KIND_OF[m.group('word')], m.group('colour') or '')
        same = [t for t in found if t.kind == target.kind]
        if same and (not target.colour or same[0].colour in ('', target.colour)):
            if target.colour and not same[0].colour:  # "the cup ... the red cup"
                found[found.index(same[0])] = target
            continue
        found.append(target)
    return found


def unknown_colours(text: str) -> list[str]:
    """Colour words of ``text`` (lower case) on a target that are none of ``COLOURS``:
    "the pink ball" gives ['pink']."""
    return [m.group('colour') for m in _OTHER_COLOUR.finditer(text)]
