"""Text a reader could be fooled by: invisible, control or look-alike characters in a statement."""

import re
import unicodedata

_ALLOWED_CONTROLS = {"\t", "\n", "\r"}
_UNUSUAL = re.compile(r"[^\t\n\r\x20-\x7e]")  # anything but printable ASCII and the usual whitespace
_HIDDEN_CATEGORIES = {"Cf", "Cc", "Co", "Cs", "Cn", "Zl", "Zp"}
MAX_REPORTED = 3


def hidden_characters(text: str) -> list[str]:
    """Why the text cannot be read as it looks: format, control, private or unassigned characters, and any
    character that NFKC normalisation changes (fullwidth letters, ligatures, non-breaking spaces...)."""
    if not _UNUSUAL.search(text):
        return []
    problems = _describe(text, _is_hidden)
    if not problems and unicodedata.normalize("NFKC", text) != text:
        problems = _describe(text, _changes_under_nfkc) or ["the text changes under NFKC normalisation"]
    return problems


def non_ascii_outside_strings(words: list[str]) -> list[str]:
    """Why keywords or identifiers cannot be trusted: a non-ASCII letter in one (a Cyrillic `а` looks like `a`)."""
    return [f"non-ASCII character in keyword or identifier {word!r}" for word in words if not word.isascii()][
        :MAX_REPORTED
    ]


def _is_hidden(ch: str) -> bool:
    return ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in _HIDDEN_CATEGORIES


def _changes_under_nfkc(ch: str) -> bool:
    return unicodedata.normalize("NFKC", ch) != ch


def _describe(text: str, suspicious) -> list[str]:
    found = []
    for offset, ch in enumerate(text):
        if suspicious(ch):
            name = unicodedata.name(ch, "unnamed")
            found.append(f"character U+{ord(ch):04X} ({name}) at offset {offset}")
            if len(found) == MAX_REPORTED:
                break
    return found
