"""The least a policy of hitl's shape costs OPA: a generated policy with the same rule packages (one per file of
rego/hitl/rules) in which every rule does nothing, and an entry that collects, sorts and returns their reasons as
hitl's does (data.hitl.main.decision and data.hitl.main.decisions). One package gives a constant reason, so every
manifest gets a decision; the others compare one input field with a value it never has.

What it measures is OPA's evaluator and server, not hitl's rules: no rewrite of the rules can make a decision of
this shape cheaper than this. bench/policy_cost.py and bench/serve_api.py measure it beside the real policy.
"""

from pathlib import Path

import tools

NAME = "shape floor"  # what the benches call it beside the real policy

_RULE = """package hitl.rules.{name}

reasons contains {{"code": "{name}", "tier": "block", "message": "never"}} if {{
\tinput.manifest.target.environment == "no such environment"
}}
"""

_GIVING_RULE = """package hitl.rules.{name}

reasons contains {{"code": "{name}", "tier": "single_approval", "message": "always"}}
"""

_ENTRY = """package hitl.main

_rank := {"auto_approve": 0, "single_approval": 1, "double_approval": 2, "escalate": 3, "block": 4}

_order := ["auto_approve", "single_approval", "double_approval", "escalate", "block"]

reasons contains r if {
\tsome r in data.hitl.rules[_].reasons
}

sorted_reasons := [r | some key in sort(keys); r := key[3]] if {
\tkeys := {[0 - _rank[r.tier], r.code, r.message, r] | some r in reasons}
}

tier := _order[max({_rank[r.tier] | some r in reasons})]

decision := {
\t"id": input.manifest.metadata.id,
\t"tier": tier,
\t"profile": data.hitl.profiles[input.profile].metadata.name,
\t"agent": input.manifest.agent.id,
\t"reasons": sorted_reasons,
}

decisions := [d |
\tsome i, m in input.manifests
\td := decision with input as {"profile": input.profile, "manifest": m}
]
"""


def rule_names(rego: Path = tools.REGO) -> list[str]:
    """The rule packages of hitl's policy: one per file of rego/hitl/rules, tests and schemas aside."""
    return sorted(path.stem for path in (rego / "hitl" / "rules").glob("*.rego") if not path.stem.endswith("_test"))


def write(folder: Path, rego: Path = tools.REGO) -> Path:
    """The shape-floor policy for the rule packages of rego, written into folder (returned)."""
    names = rule_names(rego)
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        (folder / f"{name}.rego").write_text((_GIVING_RULE if index == 0 else _RULE).format(name=name))
    (folder / "main.rego").write_text(_ENTRY)
    return folder
