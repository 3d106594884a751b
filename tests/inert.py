"""The line invariants every output of hitl holds, whatever text it shows (hitl_cli/escaping.py)."""

import re

INVISIBLE = ("\x1b", "\x9b", "\u202e", "\u200b", "\u2028", "\x85", "\r", "\x07")
GITHUB_COMMAND = re.compile(r"::(error|warning) file=[^:,]*,line=\d+,title=[^:,]*::.*|::notice title=hitl::.*")


def assert_inert(text: str, github: bool = False) -> None:
    for line in text.split("\n"):
        if github and line:
            assert GITHUB_COMMAND.fullmatch(line), line
        else:
            assert not line.lstrip().startswith("::"), line
        assert "##[" not in line, line
        assert line.isprintable(), ascii(line)
    for character in INVISIBLE:
        assert character not in text
