"""A person is one person however they spell it: identities and refusals of hitl_cli.models.names, in-process."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_cli.models import names

DASHES = ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d", "\u058a", "\u2e3a"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066", "\u180e", "\U000e0041",
             "\u034f", "\ufe0f", "\U000e0100", "\u3164", "\uffa0", "\u2800", "\u17b4", "\u180b"]


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize("spelling", ["ALICE", "Alice", fullwidth("alice"), fullwidth("ALICE"), "ａlice"])
def test_case_and_width_are_one_identity(spelling):
    assert names.problem(spelling) is None
    assert names.same(spelling, "alice")


@pytest.mark.parametrize("spelling", ["al\u0131ce", "\u0251lice", "ali\u0307ce", "AL\u0130CE", "ali\u0301ce", "alice\u20dd"])
def test_latin_look_alikes_and_combining_marks_are_one_identity(spelling):
    assert names.problem(spelling) is None
    assert names.same(spelling, "alice")


def test_two_names_in_another_script_stay_two_people():
    assert not names.same("Иван", "Дмитрий")
    assert names.same("Иван", "ИВАН")


@pytest.mark.parametrize("dash", DASHES)
def test_every_hyphen_like_character_is_the_hyphen(dash):
    spelling = f"etl{dash}agent"
    assert names.problem(spelling) is None
    assert names.key(spelling) == "etl-agent"


@pytest.mark.parametrize("character", INVISIBLE + ["\x00", "\x1b", "\x7f", "\x85", "\ue000", "\u0378", "\u2028"])
def test_control_format_private_and_unassigned_characters_are_refused(character):
    for name in (f"etl-agent{character}", f"{character}alice", f"al{character}ice"):
        found = names.problem(name)
        assert found is not None and f"U+{ord(character):04X}" in found, (name, found)
        with pytest.raises(ValueError, match="character"):
            names.checked(name)


@pytest.mark.parametrize(
    "name, needle",
    [
        ("аlice", "mixes scripts (cyrillic, latin)"),  # Cyrillic а
        ("alicе", "mixes scripts"),  # Cyrillic е at the end
        ("αlice", "mixes scripts (greek, latin)"),
        ("sеcurity-oncall", "mixes scripts"),
        ("асе", "look like Latin"),  # all Cyrillic, reads "ace"
        ("ѕсоре", "look like Latin"),
        ("ΑΒΕ", "look like Latin"),  # upper-case Greek reads "ABE"
        (" ", "empty once normalised"),
        ("\u3000", "empty once normalised"),  # ideographic space turns into a space
        (" alice", "spaces at either end"),
        ("a" * 129, "longer than 128"),
    ],
)
def test_look_alike_mixed_and_empty_names_are_refused(name, needle):
    found = names.problem(name)
    assert found is not None and needle in found, found


@pytest.mark.parametrize("name", ["José", "Иван", "Дмитрий", "Ἀλέξανδρος", "山田太郎", "山田たろう", "O'Brien", "ann.lee_2"])
def test_real_names_in_one_script_are_accepted(name):
    assert names.problem(name) is None
    assert names.checked(name) == name


def test_a_refusal_names_the_code_point_and_never_echoes_it_raw():
    with pytest.raises(ValueError) as raised:
        names.checked("etl-agent\u200b\x1b[31m")
    assert "U+200B" in str(raised.value) and "\u200b" not in str(raised.value) and "\x1b" not in str(raised.value)


ascii_names = st.from_regex(r"\A[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,10}){0,3}\Z")


@given(ascii_names, st.data())
def test_any_mix_of_case_width_and_dash_spellings_is_one_identity(name, data):
    spelled = "".join(
        data.draw(st.sampled_from(DASHES + ["-"])) if c == "-"
        else data.draw(st.sampled_from([c, c.upper(), fullwidth(c), fullwidth(c.upper())]))
        for c in name
    )
    assert names.problem(spelled) is None
    assert names.same(spelled, name)


@given(ascii_names, st.sampled_from(INVISIBLE), st.integers(min_value=0))
def test_an_invisible_character_anywhere_is_refused(name, invisible, where):
    where %= len(name) + 1
    assert names.problem(name[:where] + invisible + name[where:]) is not None
