"""Every shipped profile decides a broad corpus of manifests exactly as recorded in expected_decisions.txt.

The file was written from the policies before the shipped rules moved to the `rules:` settings mechanism
(docs/profiles.md), so a refactoring of how rules read their settings cannot change a decision unnoticed. A
deliberate change to a policy or a shipped profile regenerates it: `python -m tests.test_decisions_unchanged`
(review the diff: each changed line is a changed decision).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a module too (python -m tests.test_decisions_unchanged)

from decision_corpus import EXPECTED, observed  # noqa: E402


def test_every_shipped_profile_decides_the_corpus_as_recorded(policy):
    expected = EXPECTED.read_text().splitlines()
    actual = observed(policy)
    changed = [f"- {old}\n+ {new}" for old, new in zip(expected, actual) if old != new]
    assert len(actual) == len(expected) and not changed, "\n".join(changed[:20])


if __name__ == "__main__":
    from hitl_cli.engine import policy_engine
    from hitl_cli.inputs import load_all_profiles
    from conftest import Policy

    with policy_engine(load_all_profiles(), None) as client:
        EXPECTED.write_text("\n".join(observed(Policy(client))) + "\n")
    sys.exit(0)
