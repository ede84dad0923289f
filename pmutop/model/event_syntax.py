"""perf's `-e` event syntax, parsed into a tree (nothing here knows the machine).

The grammar is the one tools/perf/Documentation/perf-list.txt documents and
tools/perf/util/parse-events.{l,y} implement, for counting:

    list      := item ("," item)*
    item      := group | event
    group     := "{" event ("," event)* "}" [modifiers]
    event     := (pmu_event | tracepoint | raw | named) [modifiers]
    pmu_event := NAME "/" [term ("," term)*] "/"       cpu_core/event=0x3c,umask=0x0/, instructions/cpu=0/
    term      := NAME ["=" value]                      bare terms mean 1; `r1a8` inside a PMU is config=0x1a8
    value     := NUMBER | NAME | CPU-RANGE | 'quoted' | "quoted"
    tracepoint:= NAME ":" NAME                         sched:sched_switch (globs allowed: sched:sched_*)
    raw       := "r" HEX                               r1a8, r0x1a8, r20000038f
    named     := NAME                                  cycles, L1-dcache-load-misses, sysfs alias names
    modifiers := ":" MODS | MODS right after a pmu_event's closing "/"      (cpu/cycles/u, ibs_op//pp)

`NAME:X` is a tracepoint unless X is made only of modifier letters, as perf's lexer decides.
Whether a NAME before "/" is a PMU or an event with qualifier terms is the resolver's question.
"""

import re
from dataclasses import dataclass, field

# perf-list.txt "EVENT MODIFIERS", one letter each; p may repeat (precise level 0-3).
MODIFIER_LETTERS = "ukhIGHpPSDWebRX"
MAX_EVENT_TEXT = 4096
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.\-*?\[\]@]+")
_RAW = re.compile(r"^r(?:0x)?([0-9a-fA-F]+)$")
_MODS = re.compile(rf"^[{MODIFIER_LETTERS}]+$")
_CPU_RANGE = re.compile(r"^[0-9]+(?:-[0-9]+)?$")


class EventSyntaxError(ValueError):
    """A list that is not perf's event syntax; the message points at the offending column."""

    def __init__(self, text: str, position: int, reason: str) -> None:
        self.text, self.position, self.reason = text, position, reason
        super().__init__(f"{reason} at column {position + 1} of {text!r}")


@dataclass(frozen=True, slots=True)
class Modifiers:
    """The letters after an event's colon, as perf reads them (tools/perf/util/parse-events.c)."""

    user: bool = False  # u
    kernel: bool = False  # k
    hypervisor: bool = False  # h
    non_idle: bool = False  # I
    guest: bool = False  # G
    host: bool = False  # H
    precise: int = 0  # p, pp, ppp
    max_precise: bool = False  # P
    sample_read: bool = False  # S
    pinned: bool = False  # D
    weak: bool = False  # W
    exclusive: bool = False  # e
    bpf: bool = False  # b
    retire_latency: bool = False  # R
    no_regroup: bool = False  # X
    text: str = ""

    @property
    def exclude_user(self) -> bool:
        return self._privilege_filter and not self.user

    @property
    def exclude_kernel(self) -> bool:
        return self._privilege_filter and not self.kernel

    @property
    def exclude_hv(self) -> bool:
        return self._privilege_filter and not self.hypervisor

    @property
    def _privilege_filter(self) -> bool:
        # Any of u/k/h means "only these": the others are excluded (perf's `eu = ek = eh = 1` then clear).
        return self.user or self.kernel or self.hypervisor

    @property
    def exclude_guest(self) -> bool:
        return self.host and not self.guest

    @property
    def exclude_host(self) -> bool:
        return self.guest and not self.host

    def merged(self, outer: "Modifiers") -> "Modifiers":
        """A group's modifiers applied to a member (`{a,b}:u` makes both user-only)."""
        if not outer.text:
            return self
        return parse_modifiers(self.text + outer.text, 0, self.text + outer.text)


NO_MODIFIERS = Modifiers()
_LETTER_FIELD = {
    "u": "user",
    "k": "kernel",
    "h": "hypervisor",
    "I": "non_idle",
    "G": "guest",
    "H": "host",
    "P": "max_precise",
    "S": "sample_read",
    "D": "pinned",
    "W": "weak",
    "e": "exclusive",
    "b": "bpf",
    "R": "retire_latency",
    "X": "no_regroup",
}


def parse_modifiers(letters: str, position: int = 0, text: str = "") -> Modifiers:
    if not letters:
        return NO_MODIFIERS
    values: dict[str, bool | int] = {}
    precise = 0
    for offset, letter in enumerate(letters):
        if letter == "p":
            precise += 1
            continue
        name = _LETTER_FIELD.get(letter)
        if name is None:
            raise EventSyntaxError(text or letters, position + offset, f"unknown modifier {letter!r}")
        values[name] = True
    if precise > 3:
        raise EventSyntaxError(text or letters, position, "precise level (p) goes up to 3")
    return Modifiers(precise=precise, text=letters, **values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Term:
    """`name=value` inside a PMU event; value None means a bare term (1, or an alias name)."""

    name: str
    value: int | str | None = None

    def spell(self) -> str:
        if self.value is None:
            return self.name
        if isinstance(self.value, int):
            return f"{self.name}={self.value:#x}"
        return f"{self.name}={self.value}"


@dataclass(frozen=True, slots=True)
class NamedEvent:
    """A bare name: a legacy hardware/cache/software event or a sysfs alias on some PMU."""

    name: str
    modifiers: Modifiers = NO_MODIFIERS
    text: str = ""


@dataclass(frozen=True, slots=True)
class PmuEvent:
    """`pmu/terms/`; `pmu` may also be an event name carrying qualifiers (`instructions/cpu=0/`)."""

    pmu: str
    terms: tuple[Term, ...]
    modifiers: Modifiers = NO_MODIFIERS
    text: str = ""


@dataclass(frozen=True, slots=True)
class RawEvent:
    """`rNNNN`: the PMU's own encoding, in hex."""

    config: int
    modifiers: Modifiers = NO_MODIFIERS
    text: str = ""


@dataclass(frozen=True, slots=True)
class TracepointEvent:
    system: str
    name: str
    modifiers: Modifiers = NO_MODIFIERS
    text: str = ""


Event = NamedEvent | PmuEvent | RawEvent | TracepointEvent


@dataclass(frozen=True, slots=True)
class EventGroup:
    """`{a,b}`: scheduled onto the PMU together. A lone event is a group of one, not `grouped`."""

    events: tuple[Event, ...]
    grouped: bool = False
    modifiers: Modifiers = field(default=NO_MODIFIERS)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str, position: int | None = None) -> EventSyntaxError:
        return EventSyntaxError(self.text, self.pos if position is None else position, reason)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected {char!r}, found {found}")
        self.pos += 1

    def name(self, what: str) -> str:
        match = _NAME_CHARS.match(self.text, self.pos)
        if not match:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected {what}, found {found}")
        self.pos = match.end()
        return match.group()

    def parse(self) -> tuple[EventGroup, ...]:
        if not self.text.strip():
            raise self.fail("empty event list")
        items = [self.item()]
        while self.peek() == ",":
            self.pos += 1
            items.append(self.item())
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.peek()!r}")
        return tuple(items)

    def item(self) -> EventGroup:
        if self.peek() != "{":
            return EventGroup((self.event(),))
        self.pos += 1
        events = [self.event()]
        while self.peek() == ",":
            self.pos += 1
            events.append(self.event())
        self.expect("}")
        modifiers = self.colon_modifiers()
        return EventGroup(tuple(events), grouped=True, modifiers=modifiers)

    def colon_modifiers(self) -> Modifiers:
        if self.peek() != ":":
            return NO_MODIFIERS
        self.pos += 1
        start = self.pos
        letters = self.name("modifiers")
        return parse_modifiers(letters, start, self.text)

    def event(self) -> Event:
        start = self.pos
        first = self.name("an event name")
        if self.peek() == "/":
            self.pos += 1
            terms = self.terms()
            self.expect("/")
            modifiers = self.colon_modifiers()
            if modifiers is NO_MODIFIERS:
                # perf also takes modifiers straight after the closing slash: cpu/cycles/u, ibs_op//pp.
                match = re.compile(rf"[{MODIFIER_LETTERS}]+").match(self.text, self.pos)
                if match:
                    self.pos = match.end()
                    modifiers = parse_modifiers(match.group(), match.start(), self.text)
            return PmuEvent(first, terms, modifiers, self.text[start : self.pos])
        if self.peek() == ":":
            after_colon = self.pos + 1
            match = _NAME_CHARS.match(self.text, after_colon)
            second = match.group() if match else ""
            if match and not _MODS.match(second):
                self.pos = match.end()
                modifiers = self.colon_modifiers()
                return TracepointEvent(first, second, modifiers, self.text[start : self.pos])
        modifiers = self.colon_modifiers()
        text = self.text[start : self.pos]
        raw = _RAW.match(first)
        if raw:
            return RawEvent(int(raw.group(1), 16), modifiers, text)
        return NamedEvent(first, modifiers, text)

    def terms(self) -> tuple[Term, ...]:
        terms: list[Term] = []
        if self.peek() == "/":
            return ()
        while True:
            terms.append(self.term())
            if self.peek() != ",":
                return tuple(terms)
            self.pos += 1

    def term(self) -> Term:
        name = self.name("a term")
        if self.peek() != "=":
            return Term(name)
        self.pos += 1
        if self.peek() in ("'", '"'):
            quote = self.peek()
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise self.fail("unterminated quoted value")
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return Term(name, value)
        start = self.pos
        if self.peek() == "?":
            raise self.fail(f"term {name!r} needs a value in place of '?' (perf-list: parameterized events)")
        value_text = self.name(f"a value for {name!r}")
        try:
            return Term(name, int(value_text, 0))
        except ValueError:
            if value_text[:1].isdigit() and not _CPU_RANGE.match(value_text):
                raise self.fail(f"bad number {value_text!r} for {name!r}", start) from None
            return Term(name, value_text)


def parse_event_list(text: str) -> tuple[EventGroup, ...]:
    """Parse a `-e` argument; EventSyntaxError says where and why it is not perf's syntax."""
    if len(text) > MAX_EVENT_TEXT:
        raise EventSyntaxError(text[:60] + "…", MAX_EVENT_TEXT, f"event list longer than {MAX_EVENT_TEXT} characters")
    return _Parser(text).parse()


def parse_event_lists(texts: list[str] | tuple[str, ...]) -> tuple[EventGroup, ...]:
    """Several `-e` options, as perf takes them: one list after another."""
    return tuple(group for text in texts for group in parse_event_list(text))
