"""Names of people and agents: what was typed, and the identity hitl compares.

A name's identity is its NFKC form with every dash-like character (Unicode Pd, and the minus signs) as `-`,
runs of whitespace as one space, case-folded, then NFKC again (case folding can undo it); a name that is not
ASCII then loses its combining marks and has each letter that looks like an ASCII one replaced by it. `ＡＬＩＣＥ`,
`Alice`, `alıce` (dotless i) and `alice` are one identity; so are `etl‐agent` (U+2010) and `etl-agent`.

A name is refused when it holds a control, format, private-use, surrogate or unassigned character (Unicode
Cc, Cf, Co, Cs, Cn: `etl-agent` + U+200B), another character that draws nothing (variation selectors, the
combining grapheme joiner, Hangul fillers, blank Braille), a line or paragraph separator, mixes scripts (Latin `a` beside
Cyrillic `л`; Han with Hiragana, Katakana, Bopomofo or Hangul, and Latin beside those, are the UTS #39
"highly restrictive" exceptions), is written in one non-Latin script with only letters that look like Latin
ones (all-Cyrillic `аре`), or is empty once normalised. Scripts and look-alikes come from the
confusable_homoglyphs package (Unicode Scripts.txt and confusables.txt).
"""

import unicodedata
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, Field

_REFUSED_CATEGORIES = {
    "Cc": "control",
    "Cf": "format",
    "Co": "private-use",
    "Cs": "surrogate",
    "Cn": "unassigned",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}
# Unicode's Default_Ignorable_Code_Point characters outside Cf and Cn (combining grapheme joiner, variation
# selectors, Hangul fillers), and the blank Braille pattern: each draws nothing, so a name could hide one.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0000, 0xE0FFF),
)
_MINUS_SIGNS = frozenset("\u2212\u02d7\u2796\u207b\u208b")
_SCRIPTLESS = frozenset({"COMMON", "INHERITED"})
# Script sets UTS #39 (section 5.2, highly restrictive) lets one identifier mix.
_MIXABLE_SCRIPTS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
MAX_LENGTH = 128


def _refused(character: str) -> str | None:
    """What kind of refused character this is; None when a name may hold it."""
    code = ord(character)
    if any(low <= code <= high for low, high in _INVISIBLE_RANGES):
        return "invisible"
    return _REFUSED_CATEGORIES.get(unicodedata.category(character))


def _dash(character: str) -> str:
    return "-" if character in _MINUS_SIGNS or unicodedata.category(character) == "Pd" else character


# key and problem are pure functions of the text, and a queue asks them of the same few names thousands of times
# (each verdict's person against each listed person): each answer is remembered, never anything it was asked about.
@lru_cache(maxsize=4096)
def key(name: str) -> str:
    """The identity of a name, never raising: a refused character (which `identity` rejects at the door) is
    dropped, so a name recorded before these rules compares as its visible letters."""
    identity = _folded(name)
    return identity if identity.isascii() else _skeleton(identity)


def _folded(name: str) -> str:
    """NFKC, refused characters dropped, dashes as `-`, whitespace runs as one space, case-folded, NFKC again."""
    visible = "".join(c for c in unicodedata.normalize("NFKC", name) if _refused(c) is None)
    dashed = " ".join("".join(_dash(c) for c in visible).split())
    return unicodedata.normalize("NFKC", dashed.casefold())


def _skeleton(identity: str) -> str:
    """The identity drawn in ASCII where it can be: combining marks dropped and each character that looks like an
    ASCII one (Unicode confusables.txt) replaced by it, so `al\u0131ce` (dotless i), `ali\u0307ce` (a dot above)
    and `\u0251lice` (Latin alpha) are `alice`. Two people whose names differ only so count as one: stricter."""
    from confusable_homoglyphs.confusables import confusables_data  # loading the table costs time: non-ASCII only

    return "".join(_ascii_look_alike(confusables_data, c) for c in _unmarked(identity)).casefold()


def _unmarked(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) not in ("Mn", "Me"))


def _ascii_look_alike(table: dict, character: str) -> str:
    if character.isascii():
        return character
    drawn = (_unmarked(glyph["c"]) for glyph in table.get(character, ()))
    return next((glyph for glyph in drawn if glyph and glyph.isascii()), character)


@lru_cache(maxsize=4096)
def problem(name: str) -> str | None:
    """Why a name cannot stand for a person or an agent; None when it can."""
    if len(name) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    for character in name + unicodedata.normalize("NFKC", name):
        kind = _refused(character)
        if kind:
            return f"holds U+{ord(character):04X}, a {kind} character"
    if not key(name):
        return "is empty once normalised"
    if name != name.strip():
        return "has spaces at either end"
    if not _folded(name).isascii():
        return _script_problem(unicodedata.normalize("NFKC", name), _folded(name))
    return None


def _script_problem(typed: str, identity: str) -> str | None:
    """typed: the name in NFKC, before case folding (upper-case `ΑΒΕ` looks like `ABE`, `αβε` does not)."""
    from confusable_homoglyphs import categories, confusables  # loading the tables costs time: only for non-ASCII

    scripts = {categories.alias(c) for c in identity} - _SCRIPTLESS
    if "Unknown" in scripts:
        return "holds a character of no known script"
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _MIXABLE_SCRIPTS):
        return f"mixes scripts ({', '.join(sorted(s.lower() for s in scripts))})"
    spellings = ([c for c in form if unicodedata.category(c).startswith("L")] for form in (typed, identity))
    if scripts - {"LATIN"} and any(
        letters and all(_looks_ascii(confusables, c) for c in letters) for letters in spellings
    ):
        return f"is written in {next(iter(scripts)).lower()} letters that all look like Latin ones"
    return None


def _looks_ascii(confusables, letter: str) -> bool:
    found = confusables.is_confusable(letter, preferred_aliases=["latin"]) or []
    return any(glyph["c"].isascii() for entry in found for glyph in entry["homoglyphs"])


def checked(name: str) -> str:
    """The name as typed, when it can stand for someone; ValueError (pydantic's message) otherwise."""
    found = problem(name)
    if found:
        raise ValueError(f"{ascii(name)} {found}")
    return name


def same(a: str, b: str) -> bool:
    """Whether two names are one person (or agent)."""
    return key(a) == key(b)


# A person's or agent's name wherever hitl reads one from a person (profiles, --by).
HumanName = Annotated[str, Field(min_length=1), AfterValidator(checked)]
