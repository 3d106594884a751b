"""`check --format junit`: one test case per manifest; anything but auto_approve fails, invalid input errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from hitl_cli.escaping import xml_text
from hitl_cli.reporters.common import source_file, verdict

if TYPE_CHECKING:
    from hitl_cli.evaluation import RunResult


def render(result: RunResult) -> str:
    invalid = result.invalid_documents()
    needing_human = [item for item in result.evaluated if not item.may_run]
    suite = ET.Element(
        "testsuite",
        name=xml_text(f"hitl ({result.profile})"),
        tests=str(len(result.evaluated) + len(invalid)),
        failures=str(len(needing_human)),
        errors=str(len(invalid)),
        skipped="0",
    )
    for item in result.evaluated:
        d = item.decision
        case = ET.SubElement(suite, "testcase", classname=xml_text(source_file(item.loaded.source)), name=xml_text(d.id))
        if not item.may_run:
            failure = ET.SubElement(case, "failure", type=d.tier, message=xml_text(f"{d.id} {verdict(item)} ({d.tier})"))
            failure.text = "\n".join(xml_text(f"[{r.tier}] {r.code}: {r.message}") for r in d.reasons)
    for source, problems in invalid.items():
        case = ET.SubElement(suite, "testcase", classname=xml_text(source_file(source)), name=xml_text(source))
        error = ET.SubElement(case, "error", type="invalid_manifest", message=xml_text(problems[0]))
        error.text = "\n".join(xml_text(problem) for problem in problems)
    suites = ET.Element("testsuites", name="hitl")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
