"""OPA's complaints about a policy, said in one line that names where: `file:line: kind: message`."""

import re

_LOCATION = re.compile(r"(\S+?:\d+): (rego_\w+): (.*)$")


def rego_error(output: str) -> str:
    """OPA's complaint about a policy as `file:line: kind: message` lines (OPA follows each with the source line
    and a `^` marker, which say nothing on their own); the whole output, on one line, if it has none."""
    found = []
    for line in output.splitlines():
        match = _LOCATION.search(line.strip())
        if match:
            found.append(f"{match.group(1)}: {match.group(2)}: {match.group(3)}")
    return "; ".join(found) if found else " ".join(output.split()) or "no output"
