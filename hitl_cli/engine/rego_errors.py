"""OPA's complaints about a policy, said in one line that names where: `file:line: kind: message`."""

import re

_LOCATION = re.compile(r"(\S+?:\d+): (rego_\w+): (.*)$")


def rego_error(output: str) -> str:
    """OPA's complaint about a policy as `file:line: kind: message` lines (OPA follows each with the source line
    and a `^` marker, which say nothing on their own); the whole output, on one line, if it has none."""
    found: dict[tuple[str, str], str] = {}  # OPA may say one error twice, the second time at more length
    for line in output.splitlines():
        match = _LOCATION.search(line.strip())
        if match and len(match.group(3)) > len(found.get(match.group(1, 2), "")):
            found[match.group(1, 2)] = match.group(3)
    return "; ".join(f"{where}: {kind}: {message}" for (where, kind), message in found.items()) or (
        " ".join(output.split()) or "no output"
    )
