"""Text hitl did not write (manifest fields, file names, profile text, reason messages quoting them) made inert
for each place it is shown. Every reporter and template goes through these functions.

The line rules hold for every output:
- no value can start a new line: control, format (bidi overrides, zero-width), separator and other
  non-printable characters are shown as `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN`, so no terminal escape reaches a
  terminal either;
- no value can make a CI log line a GitHub Actions workflow command: a value starting with `::` (after any
  blanks) has its first colon shown as `\\x3a`, and `##[` (the older command form) becomes `#\\x23[`.
"""

import re
from typing import Any

_COMMAND_START = re.compile(r"^(\s*):")
_OLD_COMMAND = "##["


def _escaped(character: str) -> str:
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(value: Any) -> str:
    """One line of plain text showing the value literally: every character a terminal or CI log would act on
    (or hide) is escaped, and the line cannot become a workflow command."""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else _escaped(c) for c in text)
    if _OLD_COMMAND in text:
        text = text.replace(_OLD_COMMAND, "#\\x23[")
    if text.lstrip().startswith("::"):
        text = _COMMAND_START.sub(r"\1\\x3a", text, count=1)
    return text


def visible_lines(value: Any) -> str:
    """Text whose line breaks are kept (a statement, a list of reasons), each line made `visible`."""
    return "\n".join(visible(line) for line in str(value).split("\n"))


# --- JSON ---


def _json_escaped(character: str) -> str:
    code = ord(character)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(dumped: str) -> str:
    """JSON text (from json.dumps) that parses to the same value but holds no unprintable character (outside
    strings JSON has only line breaks and spaces) and no `##[`: both written as JSON escapes inside strings."""
    if not dumped.replace("\n", "").isprintable():
        dumped = "".join(c if c.isprintable() or c == "\n" else _json_escaped(c) for c in dumped)
    return dumped.replace(_OLD_COMMAND, "#\\u0023[")


# --- GitHub Actions workflow commands (docs.github.com: "Workflow commands for GitHub Actions") ---


def github_data(value: Any) -> str:
    """The message of a workflow command: its lines kept (as %0A), each one visible."""
    return visible_lines(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(value: Any) -> str:
    """A property value (file=, title=) of a workflow command: also `:` and `,`, which end a property."""
    return github_data(visible(value)).replace(":", "%3A").replace(",", "%2C")


# --- Markdown (CommonMark / GitHub Flavored Markdown) ---

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#&!])")


def markdown_inline(value: Any) -> str:
    """One line of Markdown that shows the text literally: no emphasis, links, images, HTML, autolinks, table
    breaks or @mentions (a zero-width space entity after `@`, as in rendered text it stops a mention)."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", visible(" ".join(str(value).split())))
    return text.replace("@", "@&#8203;").replace("://", "&#58;//").replace("www.", "www&#46;")


def markdown_code_span(value: Any) -> str:
    """Inline code that shows the text literally, whatever backticks it holds."""
    text = visible(" ".join(str(value).split()))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def markdown_table_cell(text: str) -> str:
    """A pipe inside a table cell ends the cell, even inside a code span, unless escaped."""
    return text.replace("|", "\\|")


def markdown_code_block(value: Any, language: str = "") -> str:
    """A fenced block longer than any backtick run in the text, its lines kept and each one visible."""
    text = visible_lines(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


# --- JUnit XML ---


def xml_text(value: Any) -> str:
    """Text for an XML element or attribute: XML 1.0 cannot hold most control characters even as references,
    so they are shown escaped (the serializer escapes markup); line breaks are kept."""
    return visible_lines(value)
