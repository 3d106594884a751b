"""Manifest fields that name things or fit on one line hold only printable characters.

A control character (a newline, ESC), a format character (a bidi override, a zero-width space), a line or
paragraph separator, an unusual blank, a private-use or unassigned code point: none of them has a use in an
action type, an environment, a system, a resource or a summary, and each can hide text from a reviewer or
make a report say something hitl did not write. Free text (statement, context) keeps them; reports escape it.
"""



from pydantic import AfterValidator


def refuse_unprintable(value: str) -> str:
    if value.isprintable():  # every character is: the search for the first one that is not can be skipped
        return value
    for position, character in enumerate(value, start=1):
        if not character.isprintable():
            raise ValueError(
                f"holds U+{ord(character):04X} at character {position}: control, format, separator and other "
                "unprintable characters are not allowed here"
            )
    return value


Printable = AfterValidator(refuse_unprintable)
