"""The instruction planner: an English instruction -> a plan of steps, or a refusal.

"first move left 0.5 m, then go around the box on the right to the cup" is two
steps: a motion primitive and a navigation step. Sequence words (first, then,
after that, next, finally, afterwards, lastly) split the instruction; a sentence
break, or "and" and a comma next to a motion primitive, split it further when every
piece is a step ("wait 1 s. go to the cup", "move left 0.5 m and go to the cup").
Each part is then:

- a **motion primitive** with an amount: ``move``/``go``/``drive``/``strafe`` +
  forward / back / left / right + a distance (m, cm, metres, feet) or a duration
  (seconds); ``turn``/``rotate`` left / right + an angle (degrees, or none for 90;
  ``turn around`` is 180); ``wait``/``pause`` + seconds; ``stop``;
- a **navigation step**: anything that names where to go (the cup, a box, an
  obstacle, a goal), run by the policy until it arrives. Its ``target`` is the object
  its words name (``mobile_vla.objects``: "the blue ball"); parts that name two
  targets in sequence are two steps, two targets in one step are refused, and so is a
  kind the policy was not trained to find (``plan(objects=...)``).

Requests are read as the action they ask for: "can you ...?", "could you please
...", "would you (mind) ...", "I'd like you to ...", "please ..." and a leading
"hey robot," are the words of a person asking, not the instruction; what a
question-shaped request asks for must start with an action ("can you check whether
..." is not one), and a "?" without the words of asking stays a question. A question
about the room ("where is the cup?", "can you see the cup?") is not an action and is
refused with that reason. A negation that only states what the robot keeps anyway
("don't hit the box", "without touching it") is accepted; one that would change where
to go ("don't go left") is refused with the way to say it instead.

Nothing is guessed. A part that is neither, a motion without an amount ("go
left"), an amount beyond ``PlannerLimits``, a navigation step that says both sides
("go around the box on the left and on the right"), a target it cannot tell ("that
object"), non-English or emoji-only text, or more than ``max_steps`` steps refuses
the whole plan with the reason, and the robot gets zero. Plain Python: no clock, no
ROS.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass

from mobile_vla.objects import (
    COLOURS,
    GENERIC,
    OBJECT_WORDS,
    Target,
    targets_in,
    unknown_colours,
)

#: Step kinds.
MOVE, TURN, WAIT, STOP, NAVIGATE = 'move', 'turn', 'wait', 'stop', 'navigate'
#: Body-frame unit direction of each direction word (linear_x, linear_y).
DIRECTIONS = {
    'forward': (1.0, 0.0), 'forwards': (1.0, 0.0), 'ahead': (1.0, 0.0),
    'straight': (1.0, 0.0), 'back': (-1.0, 0.0), 'backward': (-1.0, 0.0),
    'backwards': (-1.0, 0.0), 'left': (0.0, 1.0), 'right': (0.0, -1.0),
}
UNITS_M = {'m': 1.0, 'meter': 1.0, 'meters': 1.0, 'metre': 1.0, 'metres': 1.0,
           'cm': 0.01, 'centimeter': 0.01, 'centimeters': 0.01, 'centimetre': 0.01,
           'centimetres': 0.01, 'mm': 0.001, 'ft': 0.3048, 'foot': 0.3048, 'feet': 0.3048}
UNITS_S = {'s': 1.0, 'sec': 1.0, 'secs': 1.0, 'second': 1.0, 'seconds': 1.0,
           'min': 60.0, 'minute': 60.0, 'minutes': 60.0}
NUMBER_WORDS = {'a': 1.0, 'an': 1.0, 'one': 1.0, 'two': 2.0, 'three': 3.0, 'four': 4.0,
                'five': 5.0, 'six': 6.0, 'seven': 7.0, 'eight': 8.0, 'nine': 9.0,
                'ten': 10.0, 'half': 0.5, 'half a': 0.5, 'a half': 0.5}
UNITS_ANGLE = {'degree': 1.0, 'degrees': 1.0, 'deg': 1.0, '°': 1.0,
               'rad': math.degrees(1.0), 'radian': math.degrees(1.0),
               'radians': math.degrees(1.0)}
#: A bare number after "turn left" is degrees only from here up ("turn right 90");
#: "turn left 1.57" is refused rather than read as 1.57 degrees.
BARE_DEGREES_FROM = 5.0
#: Words that name where the policy goes: an object kind (``mobile_vla.objects``; which
#: kinds a policy can find comes from its checkpoint) or its goal.
DESTINATION_WORDS = OBJECT_WORDS | GENERIC
#: Words that name a place to go or the obstacle on the way.
GOAL_WORDS = DESTINATION_WORDS | frozenset({'box', 'boxes', 'obstacle', 'obstacles'})

_SPLIT = re.compile(
    r'\s*(?:[;.]\s*|,\s*|\s+)(?:and\s+)?(?:then|after\s+that|afterwards|next(?=\s*,)|'
    r'finally|lastly)\b[,\s]*', re.IGNORECASE)
#: Sentence breaks split a part only when every piece is a step on its own ("wait 1 s.
#: go to the cup"), not inside a description ("the cup is behind the box; go left of it").
_SENTENCES = re.compile(r'\s*;\s*|\.\s+')
#: "and" or a comma split a part only around a motion primitive.
_AND = re.compile(r',?\s+and\s+|,\s*', re.IGNORECASE)
_LEAD = re.compile(r'^(?:first(?:ly)?|first of all|to begin|start by)\b[,\s]*', re.IGNORECASE)
_PLEASE = r'^(?:please\s+|robot,?\s+|now\s+)*'
_NUMBER = r'(?P<num>[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?|half a|a half|half|an?|one|' \
          r'two|three|four|five|six|seven|eight|nine|ten)'
_DIRECTION = r'(?:to\s+the\s+)?(?P<dir>forwards?|ahead|straight|backwards?|back|left|right)'
_MOVE_VERB = r'(?:move|go|drive|strafe|slide|roll|head|step|travel)'
_MOVE = re.compile(
    _PLEASE + r'(?:' + _MOVE_VERB + r'\s+)?' + _DIRECTION + r'\s*(?:by\s+|for\s+)?'
    + _NUMBER + r'\s*(?P<unit>[^\W\d]+)\.?$')
_MOVE_NUMBER_FIRST = re.compile(
    _PLEASE + _MOVE_VERB + r'\s+(?:by\s+|for\s+)?' + _NUMBER
    + r'\s*(?P<unit>[^\W\d]+)\s+' + _DIRECTION + r'\.?$')
_BACK_UP = re.compile(_PLEASE + r'(?:back\s+up|reverse)\s+(?:by\s+|for\s+)?' + _NUMBER
                      + r'\s*(?P<unit>[^\W\d]+)\.?$')
_TURN = re.compile(
    _PLEASE + r'(?:turn|rotate|spin)\s+(?:to\s+the\s+)?(?P<dir>left|right)(?:\s+(?:by\s+)?'
    + _NUMBER + r'\s*(?P<unit>degrees?|deg|°|rad|radians?)?)?\.?$')
_TURN_NUMBER_FIRST = re.compile(
    _PLEASE + r'(?:turn|rotate|spin)\s+(?:by\s+)?' + _NUMBER
    + r'\s*(?P<unit>degrees?|deg|°|rad|radians?)?\s+(?:to\s+(?:the|your)\s+)?'
    r'(?P<dir>left|right)\.?$')
_TURN_AROUND = re.compile(_PLEASE + r'(?:turn|spin)\s+around\.?$')
_WAIT = re.compile(_PLEASE + r'(?:wait|pause|hold(?:\s+still)?|stay(?:\s+still)?)'
                   r'(?:\s+(?:for\s+)?' + _NUMBER + r'\s*(?P<unit>[^\W\d]+))?\.?$')
_STOP = re.compile(_PLEASE + r'(?:emergency\s+)?(?:stop|halt|freeze)(?:\s+(?:now|here|'
                   r'moving|please|the\s+robot|stop|at\s+once|right\s+now))*[.!]*$')
_MOTION_WORDS = re.compile(_PLEASE + r'(?:move|go|drive|strafe|slide|turn|rotate|spin|'
                           r'wait|pause|back\s+up|reverse|step)\b')
#: An amount inside a navigation step: a motion the policy would drop ("move left 0.5 m
#: to the cup").
_AMOUNT = re.compile(r'\d\s*(?:m|cm|mm|ft|meters?|metres?|centimet(?:er|re)s?|feet|foot|'
                     r'degrees?|deg|°|rad|radians?|s|sec|secs|seconds?|minutes?)\b')
#: What a navigation step must not say: the policy only goes to the cup, so a negation,
#: "away", a question or another task would be driven to the cup anyway. A negation is
#: any word that takes something back ("without", "avoid", "instead", "scratch that",
#: contractions with or without the apostrophe); only a whole clause that states a
#: constraint the robot keeps anyway is taken out first (``_CONSTRAINT``).
_NEGATION = re.compile(
    r"\b(?:not|don'?t|never|no|cannot|(?:can|won|should|would|could|must|does|did|is|are|"
    r"was|were|have|has|need)n'?t|without|avoid(?:ing)?|except|instead|rather|refrain|skip|"
    r"unless|neither|nor|cancel|undo|scratch\s+that|just\s+kidding|never\s*mind|forget\s+it|"
    r"stop\s+(?:going|heading|driving|moving|passing))\b|n't\b")
#: A question left in a navigation part once ``_asked`` has refused the questions about the
#: room ("where ...", "is ...") and taken off the words of asking: a "?", or an auxiliary
#: with no "you" after it ("can I ...", "should I ...", "does the box ...").
_QUESTION = re.compile(r'\?|^(?:can|could|would|should|does|did)\b')
_OBJECT_WORDS = '(?:' + '|'.join(sorted(OBJECT_WORDS, key=len, reverse=True)) + ')'
_ELSEWHERE = re.compile(r'\b(?:away|ignore|avoid\s+the\s+(?:\w+\s+)?' + _OBJECT_WORDS + r')\b')
_OTHER_TASK = re.compile(r'\b(?:push|pick|grab|lift|crash|hit|kick|throw|carry|bring|fetch|'
                         r'score)\b|\b(?:take|get)\s+(?:me\s+)?(?:the\s+|a\s+|an\s+)?'
                         r'(?:\w+\s+)?' + _OBJECT_WORDS + r'\b')
#: A negation that only states what the robot keeps anyway (it never drives into a box):
#: "don't hit the box", "without touching it", "careful not to bump into anything".
_CONSTRAINT = re.compile(
    r"(?:\b(?:do\s+not|don'?t|never|without|not\s+to)\s+|\bavoid(?:ing)?\s+(?=(?:hitting|"
    r"touching|bumping|crashing|colliding|the\s+box|the\s+obstacle)))"
    r'(?:(?:hit(?:ting)?|touch(?:ing)?|bump(?:ing)?|crash(?:ing)?|collid(?:e|ing)|'
    r'knock(?:ing)?|run(?:ning)?|scrap(?:e|ing)|brush(?:ing)?)\s+)?'
    r'(?:(?:into|against|with|over|on)\s+)?(?:(?:the|any|a|an)\s+)?'
    r'(?:box(?:es)?|obstacles?|it|them|anything|something|things?|walls?)\b'
    # ... as a whole clause: then the end, a clause break, or a conjunction that starts
    # the next one ("or go left" and "on the left" belong to what is negated)
    r'(?=\s*(?:$|[,;.!]|\s(?:and|while|as|then|to\s+(?:reach|get|go))\b))')
#: A target named by pointing ("move to that object"): nothing the robot can tell.
_POINTING = re.compile(r'\b(?:that|this|those|these)\s+(?:object|thing|one|item|spot|place)s?'
                       r'\b|\bto\s+(?:it|there)\s*$')
#: "on your left" says where the obstacle is, so the robot passes on the other side;
#: every other side word names the side to pass on ("on the left", "keep to the left").
_SIDE_YOURS = re.compile(r'\b(?:on|to)\s+your\s+(?P<side>left|right)\b')
_SIDE_ANY = re.compile(r'\b(?P<side>left|right)\b')
OTHER = {'left': 'right', 'right': 'left'}

#: Who is spoken to, before the request: "hey robot,", "ok,", "robot,".
_ADDRESS = re.compile(r'^(?:(?:hey|hi|hello|ok(?:ay)?|alright)\b[,!\s]*)*(?:robot\b[,!\s]*)?',
                      re.IGNORECASE)
#: The words of asking, around the action asked for.
_REQUEST = re.compile(
    r"^(?:please|kindly|just|(?:can|could|would|will)\s+you(?:\s+(?:please|kindly|now|just))*"
    r"(?:\s+mind)?|(?:would|do)\s+you\s+mind|i(?:'d|\s+would)\s+(?:like|love)\s+(?:for\s+)?"
    r"you\s+to|i\s+(?:want|need)\s+you\s+to)\b[,\s]*", re.IGNORECASE)
_REQUEST_END = re.compile(r'\b(?:please|for\s+me|thanks|thank\s+you)$', re.IGNORECASE)
#: What a request may ask for: an action, said with its verb first ("can you check
#: whether ...", "would you mind if I ...", "can you get me ..." are not actions).
_ACTION_FIRST = re.compile(
    r'^(?:(?:carefully|slowly|now|just|then|first|quickly)\s+)*(?:go|move|drive|head|pass|'
    r'reach|get\s+to|navigate|keep|steer|circle|loop|detour|skirt|hug|bypass|swing|veer|'
    r'travel|proceed|approach|arrive|stop|halt|freeze|turn|rotate|spin|wait|pause|hold|stay|'
    r'back\s+up|reverse|strafe|slide|roll|step|leave|follow|take|make|try|'
    r'find(?!\s+(?:out|where|what|which|how|whether|if|me|us|someone)\b))\b'
    r'(?!.*\b(?:if|whether)\b)',
    re.IGNORECASE)
#: A question about the room or the robot, not an action: refused with that reason.
_STATE_QUESTION = re.compile(
    r'^(?:where|what|which|who|whose|why|how|is|are|am|was|were|isn\'t|aren\'t|'
    r'(?:do|does|did|has|have|had)\s+(?:you|i|we|they|it|he|she)\b)',
    re.IGNORECASE)
_STATE_VERBS = re.compile(r'^(?:see|tell|say|know|show|describe|hear|explain|spot|notice|'
                          r'count|recogni[sz]e)\b', re.IGNORECASE)
#: "would you mind going ...": the action's verb.
_GERUNDS = {'going': 'go', 'moving': 'move', 'driving': 'drive', 'turning': 'turn',
            'rotating': 'rotate', 'spinning': 'spin', 'waiting': 'wait', 'stopping': 'stop',
            'backing': 'back', 'passing': 'pass', 'heading': 'head', 'getting': 'get',
            'reaching': 'reach', 'navigating': 'navigate', 'stepping': 'step',
            'keeping': 'keep', 'taking': 'take', 'strafing': 'strafe', 'pausing': 'pause'}


def _asked(text: str) -> str:
    """The action a request asks for ("can you go to the cup?" -> "go to the cup");
    PlanError for a question about the room."""
    rest = _ADDRESS.sub('', text, count=1)
    asked = False
    while True:
        stripped = _REQUEST.sub('', rest, count=1)
        if stripped == rest:
            break
        rest, asked = stripped, True
    if _STATE_QUESTION.match(rest) or (asked and _STATE_VERBS.match(rest)):
        raise PlanError(f'{text!r} is a question about the room; the robot answers no '
                        'questions (vla/status says what it is doing): to make it move, say '
                        'where to go ("go around the box on the left to the cup")')
    if not asked:
        return rest  # a "?" without the words of asking stays: it is a question
    # "can you", "would you mind", "I'd like you to": a question-shaped request, whose
    # rest must be an action ("please" and "kindly" only soften one)
    asking = re.search(r'\byou\b', text[:len(text) - len(rest)], re.IGNORECASE)
    while True:  # the end of the request: "?", "!", ", please", "thanks"
        stripped = _REQUEST_END.sub('', rest.rstrip(' ?!.,'), count=1).rstrip(' ,')
        if stripped == rest:
            break
        rest = stripped
    first, _, tail = rest.partition(' ')
    if first.lower() in _GERUNDS:
        rest = f'{_GERUNDS[first.lower()]} {tail}'.strip()
    if asking and rest.strip(' ,.!?') and not _ACTION_FIRST.match(rest):
        raise PlanError(f'{text!r} does not ask for an action the robot knows; say it as '
                        'one ("go around the box on the left to the cup", "move left 0.5 m")')
    return rest


class PlanError(ValueError):
    """An instruction the planner will not execute; the text says why and what to say."""


#: The longest instruction, in characters: English instructions are a sentence or two.
#: The inference node and the web console refuse longer ones with this limit.
MAX_INSTRUCTION_CHARS = 500


@dataclass(frozen=True)
class PlannerLimits:
    """What one step may ask for (a larger amount is refused, never clipped)."""

    max_steps: int = 8
    max_chars: int = MAX_INSTRUCTION_CHARS
    max_distance_m: float = 5.0
    max_angle_deg: float = 360.0
    max_duration_s: float = 60.0


@dataclass(frozen=True)
class Step:
    """One step of a plan.

    ``kind``: move / turn / wait / stop / navigate. ``direction``: the body-frame unit
    vector (linear_x, linear_y, angular_z) of a motion. ``amount``: metres (move),
    radians (turn), seconds (wait, or a move given as a duration with ``timed``).
    ``text``: the words of the step (what a navigation step tells the policy).
    ``side``: the side a navigation step passes the obstacle on, if it says one.
    ``target``: the object a navigation step drives to, if its words name one.
    """

    kind: str
    text: str
    direction: tuple[float, float, float] = (0.0, 0.0, 0.0)
    amount: float = 0.0
    timed: bool = False
    side: str | None = None
    target: Target | None = None

    def describe(self) -> str:
        if self.kind == MOVE:
            return (f'move {self.text_direction()} for {self.amount:g} s' if self.timed
                    else f'move {self.text_direction()} {self.amount:g} m')
        if self.kind == TURN:
            side = 'left' if self.direction[2] > 0 else 'right'
            return f'turn {side} {math.degrees(self.amount):g} degrees'
        if self.kind == WAIT:
            return f'wait {self.amount:g} s'
        if self.kind == STOP:
            return 'stop'
        return self.text

    def text_direction(self) -> str:
        x, y, _ = self.direction
        return {(1.0, 0.0): 'forward', (-1.0, 0.0): 'back', (0.0, 1.0): 'left',
                (0.0, -1.0): 'right'}.get((x, y), 'forward')


@dataclass(frozen=True)
class Plan:
    instruction: str
    steps: tuple[Step, ...]


def _number(text: str | None, part: str) -> float:
    """The amount of a step: positive and finite, or PlanError."""
    if text is None:
        raise PlanError(f'{part!r} needs an amount')
    text = text.strip()
    value = NUMBER_WORDS[text] if text in NUMBER_WORDS else float(text)
    if not math.isfinite(value) or value <= 0:
        raise PlanError(f'{part!r}: amounts are positive numbers; the direction says which '
                        'way (for example "move back 0.5 m")')
    return value


def _side_of(text: str) -> str | None:
    """The side a navigation step passes on; PlanError if it says both."""
    sides = set()
    yours = list(_SIDE_YOURS.finditer(text))
    for m in yours:
        sides.add(OTHER[m.group('side')])
    spans = [m.span('side') for m in yours]
    for m in _SIDE_ANY.finditer(text):
        if not any(a <= m.start() < b for a, b in spans):
            sides.add(m.group('side'))
    if len(sides) > 1:
        raise PlanError(f'{text!r} says both left and right; say one side (for example '
                        '"go around the box on the left to the cup")')
    return next(iter(sides), None)


def _distance_or_time(part: str, direction: str, num: str, unit: str,
                      limits: PlannerLimits) -> Step:
    x, y = DIRECTIONS[direction]
    value = _number(num, part)
    if unit in UNITS_M:
        metres = value * UNITS_M[unit]
        if metres > limits.max_distance_m:
            raise PlanError(f'{part!r}: moves are 0 to {limits.max_distance_m:g} m')
        return Step(MOVE, part, (x, y, 0.0), metres)
    if unit in UNITS_S:
        seconds = value * UNITS_S[unit]
        if seconds > limits.max_duration_s:
            raise PlanError(f'{part!r}: moves are 0 to {limits.max_duration_s:g} s')
        return Step(MOVE, part, (x, y, 0.0), seconds, timed=True)
    raise PlanError(f'{part!r}: {unit!r} is not a distance or a duration (m, cm, seconds)')


def _turn(part: str, m: re.Match, limits: PlannerLimits) -> Step:
    if m.group('num') is None:
        degrees = 90.0
    else:
        degrees = _number(m.group('num'), part)
        unit = m.group('unit')
        if unit is None and degrees < BARE_DEGREES_FROM:
            raise PlanError(f'{part!r}: give the unit ("degrees" or "radians")')
        degrees *= UNITS_ANGLE[unit] if unit else 1.0
    if degrees > limits.max_angle_deg:
        raise PlanError(f'{part!r}: turn angles are 0 to {limits.max_angle_deg:g} degrees')
    sign = 1.0 if m.group('dir') == 'left' else -1.0
    return Step(TURN, part, (0.0, 0.0, sign), math.radians(degrees))


def _motion(part: str, limits: PlannerLimits) -> Step | None:
    """A motion primitive, None if ``part`` is not one; PlanError if it is one but
    cannot be executed as said."""
    if _STOP.match(part):
        return Step(STOP, part)
    if _TURN_AROUND.match(part):
        return Step(TURN, part, (0.0, 0.0, 1.0), math.pi)
    m = _TURN.match(part) or _TURN_NUMBER_FIRST.match(part)
    if m:
        return _turn(part, m, limits)
    m = _WAIT.match(part)
    if m:
        if m.group('num') is None:
            raise PlanError(f'{part!r}: say how long (for example "wait 2 seconds")')
        scale = UNITS_S.get(m.group('unit'))
        if scale is None:
            raise PlanError(f'{part!r}: {m.group("unit")!r} is not a unit of time '
                            '(seconds, minutes)')
        seconds = _number(m.group('num'), part) * scale
        if seconds > limits.max_duration_s:
            raise PlanError(f'{part!r}: waits are 0 to {limits.max_duration_s:g} s')
        return Step(WAIT, part, amount=seconds)
    m = _BACK_UP.match(part)
    if m:
        return _distance_or_time(part, 'back', m.group('num'), m.group('unit'), limits)
    m = _MOVE.match(part) or _MOVE_NUMBER_FIRST.match(part)
    if m:
        return _distance_or_time(part, m.group('dir'), m.group('num'), m.group('unit'),
                                 limits)
    return None


#: Common English words: a navigation step needs at least half of its words here or in
#: ``GOAL_WORDS`` / ``DIRECTIONS`` (the policy was trained on English only).
ENGLISH = frozenset("""
a about across after again against ahead all along also am an and any are around as at
away back be before behind below beside between big both but by can careful carefully
close come corner could cross do down drive each edge end enter far find follow for from
front get give go going head here hold i if in inside into is it its just keep keeping
leave left let like long make me middle more move my near need next now of off on once one
onto or other out outside over part pass passing past path please reach red right road
robot round route run same see shape side slow slowly small so some stay stop straight
take taking than that the their them then there these this through to toward towards turn
under until up use via walk want way we what when where which while white will with
without you your yourself circle skirt loop hug detour bypass steer swing veer avoid arrive
approach brown cardboard coffee two pair around obstacle navigate
""".split())


def _is_english(part: str) -> bool:
    words = re.findall(r"[a-z']+", part)
    known = sum(w in ENGLISH or w in GOAL_WORDS or w in DIRECTIONS for w in words)
    return bool(words) and known * 2 >= len(words)


def _check_navigation(raw: str, part: str) -> None:
    """PlanError when a navigation part asks for what the policy cannot do; ``part`` is
    lower case, without the negations that only state a constraint."""
    if _NEGATION.search(part):
        raise PlanError(f'{raw!r}: a negation would change where to go, and the policy is '
                        'told where to go, not where not to: say where to go and the side '
                        'to take ("go around the box on the right to the cup"), or "stop"; '
                        '"don\'t hit the box" and the like are kept anyway')
    if _QUESTION.search(part):
        raise PlanError(f'{raw!r} is a question; say what to do ("go around the box on the '
                        'left to the cup")')
    if _ELSEWHERE.search(part) or _OTHER_TASK.search(part):
        raise PlanError(f'{raw!r}: the policy can only drive around the obstacle to the '
                        'cup; "away", another place or another task is not something it '
                        'can do')


def _step(raw: str, limits: PlannerLimits) -> Step:
    """One part as a step; PlanError when it is none the robot can execute."""
    raw = _asked(raw)
    part = raw.lower()
    step = _motion(part, limits)
    if step is not None:
        return step
    if _POINTING.search(part):
        raise PlanError(f'{raw!r} points at something the robot cannot tell; name where to '
                        'go: the policy knows the cup ("go to the cup")')
    words = set(re.findall(r"[a-z']+", part))
    if words & GOAL_WORDS:
        if not _is_english(part):
            raise PlanError(f'{raw!r} is not English the policy knows; say where to go in '
                            'English ("go around the box on the left to the cup")')
        _check_navigation(raw, _CONSTRAINT.sub(' ', part))
        if _AMOUNT.search(part):
            raise PlanError(f'{raw!r} mixes a distance, angle or time into where to go; say '
                            'the motion as its own step ("move left 0.5 m, then go around '
                            'the box on the right to the cup")')
        targets = targets_in(part)
        odd = unknown_colours(part)
        if odd:
            raise PlanError(f'{raw!r}: {odd[0]!r} is not a colour the policy tells apart; '
                            f'name the object by a colour of {", ".join(COLOURS)}, or by its '
                            'kind alone ("go to the ball")')
        if len(targets) > 1:
            raise PlanError(f'{raw!r} names {len(targets)} targets in one step ('
                            f'{", ".join(t.describe() for t in targets)}); go to one at a '
                            'time: "first go to the ball, then to the cup"')
        return Step(NAVIGATE, raw, side=_side_of(part), target=next(iter(targets), None))
    if _NEGATION.search(_CONSTRAINT.sub(' ', part)):  # "don't go left": no goal named
        _check_navigation(raw, _CONSTRAINT.sub(' ', part))
    if _MOTION_WORDS.match(part):
        raise PlanError(f'{raw!r} needs an amount (for example "move left 0.5 m", "turn '
                        'right 90 degrees", "wait 2 seconds")')
    raise PlanError(f'{raw!r} is not understood; say a motion ("move left 0.5 m", "turn '
                    'right 90 degrees", "wait 2 seconds", "stop") or where to go ("go '
                    'around the box on the left to the cup")')


def _split_steps(part: str, splitter: re.Pattern, limits: PlannerLimits) -> list[Step] | None:
    """``part`` split by ``splitter``, when every piece is a step and one is a motion
    ("move left 0.5 m and go to the cup"); else None."""
    pieces = [p.strip(' ,.!') for p in splitter.split(part) if p.strip(' ,.!')]
    if len(pieces) < 2:
        return None
    steps, errors = [], []
    for piece in pieces:
        try:
            steps.append(_step(piece, limits))
        except (PlanError, ValueError) as exc:
            errors.append(exc)
    motions = [s for s in steps if s.kind != NAVIGATE]
    if errors and motions:
        raise PlanError(str(errors[0]))  # "move left 0.5 m and dance": name the bad piece
    if errors:
        return None
    if not motions and not (splitter is _SENTENCES and _distinct_targets(steps)):
        return None  # one description in several pieces: a single step
    return steps


def _distinct_targets(steps: list[Step]) -> bool:
    """Whether the steps drive to more than one object ("go to the cup. go to the ball")."""
    targets = [s.target for s in steps if s.target]
    return any(not a.same_as(b) for a, b in zip(targets, targets[1:], strict=False))


def _steps(part: str, limits: PlannerLimits) -> list[Step]:
    return (_split_steps(part, _SENTENCES, limits)
            or _split_steps(part, _AND, limits)
            or [_step(part.strip(' ,.!'), limits)])


def plan(instruction: str, limits: PlannerLimits | None = None,
         objects: Collection[str] | None = None) -> Plan:
    """The plan of ``instruction``; PlanError with the reason when it cannot be run.

    Adjacent navigation parts ("pass the box on the left, then reach the cup") are one
    navigation step: the policy reads the whole description; parts that each name a
    target ("first go to the ball, then to the cup") are a step each. ``objects``: the
    object kinds the policy can find (its checkpoint's ``PolicyConfig.objects``); a
    target of another kind is refused, naming them (None: not checked).
    """
    limits = limits or PlannerLimits()
    text = ' '.join(str(instruction).replace('\u2019', "'").split())
    asked = _what_is_asked(text, limits)
    parts = [p for p in _SPLIT.split(_LEAD.sub('', asked)) if p.strip(' ,.!')]
    steps = _joined_steps(parts, limits)
    if not steps:
        raise PlanError(f'{text!r} asks for nothing; say where to go or what to do (for '
                        'example "go around the box on the left to the cup")')
    _check_steps(steps, limits, objects)
    return Plan(text, tuple(steps))


def _what_is_asked(text: str, limits: PlannerLimits) -> str:
    """The instruction without its polite frame ("can you ...?"); PlanError when it is
    too long, empty, not English words, or asks for nothing."""
    if len(text) > limits.max_chars:
        raise PlanError(f'{len(text)} characters; at most {limits.max_chars} in one '
                        'instruction')
    if not text:
        raise PlanError('the instruction is empty; say where to go or what to do')
    if not re.search(r'[A-Za-z]', text):
        raise PlanError('the instruction has no English words; say where to go (for example '
                        '"go around the box on the left to the cup")')
    asked = _asked(text)
    if not asked.strip(' ,.!?'):
        raise PlanError(f'{text!r} asks for nothing; say where to go or what to do (for '
                        'example "go around the box on the left to the cup")')
    return asked


def _joined_steps(parts: list[str], limits: PlannerLimits) -> list[Step]:
    """Each part's steps, adjacent navigation parts to one target joined into one."""
    steps: list[Step] = []
    for i, part in enumerate(parts):
        try:
            found = _steps(part, limits)
        except (PlanError, ValueError) as exc:
            raise PlanError(f'step {i + 1}: {exc}') from None
        for step in found:
            last = steps[-1] if steps else None
            if (step.kind == NAVIGATE and last is not None and last.kind == NAVIGATE
                    and (not (step.target and last.target) or step.target.same_as(last.target))):
                # One description in parts ("pass the box on the left, then reach the
                # cup"); parts that name two targets are two steps.
                joined = f'{last.text}, then {step.text}'
                try:
                    side = _side_of(joined.lower())
                except PlanError as exc:
                    raise PlanError(f'step {len(steps)}: {exc}') from None
                target = last.target.merged(step.target) if last.target and step.target \
                    else last.target or step.target
                steps[-1] = Step(NAVIGATE, joined, side=side, target=target)
            else:
                steps.append(step)
    return steps


def _check_steps(steps: list[Step], limits: PlannerLimits,
                 objects: Collection[str] | None) -> None:
    """PlanError for too many steps, a navigation without a destination, a target the
    policy does not know, or one target passed on both sides."""
    if len(steps) > limits.max_steps:
        raise PlanError(f'{len(steps)} steps; at most {limits.max_steps} in one instruction')
    known = sorted(objects) if objects is not None else None
    for i, step in enumerate(steps):
        words = set(re.findall(r"[a-z']+", step.text.lower()))
        if step.kind == NAVIGATE and not words & DESTINATION_WORDS:
            raise PlanError(f'step {i + 1}: {step.text!r} does not say where to go; the '
                            'policy drives to the cup: say "... to the cup"')
        if known is not None and step.target is not None and step.target.kind not in known:
            raise PlanError(f'step {i + 1}: {step.text!r} asks for a {step.target.kind}, which '
                            f'this policy was not trained to find; it knows: '
                            f'{", ".join(known)}')
    # The way to one target is one side; steps to different targets (another kind,
    # colour or place) may differ.
    ways = [(s.target or Target(''), s.side) for s in steps if s.kind == NAVIGATE and s.side]
    if any(a.same_as(b) and side != other for k, (a, side) in enumerate(ways)
           for b, other in ways[k + 1:]):
        raise PlanError('the navigation steps pass the obstacle on both sides; say one side')
