"""The escalation UX: interrupt messages and digests show the full context for every tier, in Markdown,
HTML and Slack; hostile manifest text stays inert; Slack output is valid Block Kit JSON; an organisation's
own templates replace the shipped ones by file name."""

import html
import json
import re
from html.parser import HTMLParser

import pytest

from .support import TIER_SHAPES, at, copy_profile, manifest, tier_manifest
from inert import assert_inert

FORMATS = ("markdown", "html", "slack")
BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text", "input", "file", "video"}


def statement(tier: str, n: int) -> str:
    """A statement of the tier shape's type, distinct per n (a read or documentation shape only reads)."""
    if TIER_SHAPES[tier]["type"] == "write":
        return f"UPDATE analytics.orders SET n = {n}"
    return f"SELECT n FROM analytics.orders WHERE n = {n}"


def rich(tier: str, n: int) -> dict:
    return tier_manifest(
        tier,
        id=f"t{n}",
        summary=f"Summary {n} of the {tier.replace('_', ' ')} action",
        context={"why": f"because WHY{n}", "read": [f"READA{n}", f"READB{n}"], "risks": [f"RISK{n}"],
                 "plan": f"PLAN{n}", "rollback": f"ROLLBACK{n}", "ticket": f"TICKET{n}"},
        statement=statement(tier, n),
        rows=1000 + n,
        cost=n + 0.25,
        exposes_pii=tier == "block",  # the block request also shows how PII exposure is rendered
        pii=tier == "block",
    )


def visible_text(output: str, format: str) -> str:
    """What a reader sees, with each format's escaping undone."""
    if format == "markdown":
        return re.sub(r"\\([\\`*_\[\]<>|~#&])", r"\1", output)
    if format == "html":
        return html.unescape(output)
    texts = []

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                texts.append(item) if key == "text" and isinstance(item, str) else walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(output))
    return "\n".join(texts).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def block_kit_problems(message) -> list[str]:
    """An independent check of the Block Kit top-level shape and text limits."""
    if not isinstance(message, dict) or not isinstance(message.get("blocks"), list):
        return ["no blocks list"]
    problems = [] if 1 <= len(message["blocks"]) <= 50 else ["1 to 50 blocks"]
    for block in message["blocks"]:
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            problems.append(f"bad type {kind}")
        if kind == "header" and not (block["text"]["type"] == "plain_text" and 0 < len(block["text"]["text"]) <= 150):
            problems.append("header text")
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append("empty section")
            for text in [block.get("text")] + block.get("fields", []) if "text" in block else block.get("fields", []):
                if text["type"] not in ("mrkdwn", "plain_text") or not 0 < len(text["text"]) <= 3000:
                    problems.append("section text")
            if len(block.get("fields", [])) > 10:
                problems.append("too many fields")
        if kind == "context" and not 0 < len(block["elements"]) <= 10:
            problems.append("context elements")
    return problems


@pytest.fixture
def tiers(ws):
    """One richly described request per tier (and a post-hoc one), with their views."""
    shapes = list(TIER_SHAPES)
    ws.submit([rich(tier, n) for n, tier in enumerate(shapes)])
    return {tier: ws.status(f"t{n}") for n, tier in enumerate(shapes)}


def test_notify_renders_the_full_context_for_every_tier(ws, tiers):
    for n, (tier, view) in enumerate(tiers.items()):
        for format in FORMATS:
            result = ws.hitl("notify", f"t{n}", "--format", format)
            assert result.returncode == 0, (tier, format, result.stderr)
            if format == "slack":
                assert block_kit_problems(json.loads(result.stdout)) == []
            seen = visible_text(result.stdout, format)
            expected = [
                f"t{n}", view["decision"]["tier"], view["status"], view["manifest"]["action"]["summary"],
                f"because WHY{n}", f"READA{n}", f"READB{n}", f"RISK{n}", f"ROLLBACK{n}",
                statement(tier, n), view["manifest"]["target"]["environment"],
                f"{1000 + n}", f"${n}.25", "trusted-agent",
                *[reason["code"] for reason in view["decision"]["reasons"]],
                *[reason["message"] for reason in view["decision"]["reasons"]],
                *[command["command"] for command in view["commands"]],
            ]
            if format != "slack":
                expected += [f"PLAN{n}", f"TICKET{n}"]  # Slack's compact layout leaves out the free-form extras
            missing = [item for item in expected if item not in seen]
            assert missing == [], (tier, format, missing)
            assert ("exposes PII" in seen) == (tier == "block"), (tier, format)


def test_messages_say_exactly_how_to_decide(ws, tiers):
    state = f"--state {ws.shown_state}"
    commands = {tier: [c["command"] for c in view["commands"]] for tier, view in tiers.items()}
    assert commands["single_approval"] == [f"hitl approve t2 --by YOUR_NAME --key YOUR_KEY_FILE {state}",
                                           f"hitl reject t2 --by YOUR_NAME --reason WHY --key YOUR_KEY_FILE {state}"]
    assert f"hitl approve t4 --by data-platform-lead --key YOUR_KEY_FILE {state}" in commands["escalate"]
    assert f"hitl approve t4 --by security-oncall --key YOUR_KEY_FILE {state}" in commands["escalate"]
    assert f"hitl override t5 --by cto --reason WHY --key YOUR_KEY_FILE {state}" in commands["block"]
    assert f"hitl review mark t1 --by YOUR_NAME --verdict ok {state}" in commands["post_hoc"]
    assert commands["auto_approve"] == []
    markdown = ws.hitl("notify", "t3").stdout
    assert f"hitl approve t3 --by YOUR_NAME --key YOUR_KEY_FILE {state}" in markdown


HOSTILE = {
    "summary": '<script>alert("summary")</script> | **bold** [link](javascript:alert(1)) <!channel>',
    "why": '<img src=x onerror=alert(1)> {{ 7*7 }} {% if true %}jinja{% endif %} "}]}',
    "read": ["</li><li>forged item", "`code` ``` fence"],
    "risks": ['"}, {"type": "header"', "<@U123> & <https://evil.example|click>"],
    "rollback": "</code></pre><script>alert(2)</script>",
    "statement": "DROP TABLE x; ``` </code></pre><script>alert(3)</script>",
}


def hostile_manifest() -> dict:
    value = manifest("hostile", type="write<b>", env="staging", summary=HOSTILE["summary"],
                     statement=HOSTILE["statement"],
                     context={"why": HOSTILE["why"], "read": HOSTILE["read"], "risks": HOSTILE["risks"],
                              "rollback": HOSTILE["rollback"], "<b>key</b>": "<i>value</i>"})
    return value


def markdown_outside_code(markdown: str) -> str:
    """The Markdown text outside fenced code blocks and inline code spans, where nothing is interpreted."""
    kept, fence = [], None
    for line in markdown.splitlines():
        opener = re.match(r"^(`{3,})", line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            kept.append(re.sub(r"(`+)(.+?)\1", "", line))
    return "\n".join(kept)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def test_html_escapes_hostile_manifest_text(ws):
    ws.submit([hostile_manifest()])
    result = ws.hitl("notify", "hostile", "--format", "html")
    assert result.returncode == 0, result.stderr
    parser = Tags()
    parser.feed(result.stdout)
    assert "script" not in parser.tags and "img" not in parser.tags and "b" not in parser.tags
    assert not [name for name in parser.attributes if name.startswith("on")]
    assert "&lt;script&gt;" in result.stdout
    seen = html.unescape(result.stdout)
    for text in [HOSTILE["summary"], HOSTILE["why"], HOSTILE["rollback"], HOSTILE["statement"], *HOSTILE["read"], *HOSTILE["risks"]]:
        assert text in seen  # shown literally, not interpreted (the Jinja in `why` is not evaluated either)


def test_markdown_and_slack_keep_hostile_text_inert(ws):
    ws.submit([hostile_manifest()])
    markdown = ws.hitl("notify", "hostile", "--format", "markdown").stdout
    outside_code = markdown_outside_code(markdown)
    assert re.findall(r"(?<!\\)[<\[]", outside_code) == []  # no raw HTML, no links: every < and [ is escaped
    assert "\\<script\\>" in markdown and "{{ 7\\*7 }}" in markdown
    assert "````sql\nDROP TABLE x; ```" in markdown  # the fence outgrows the backticks in the statement
    slack = ws.hitl("notify", "hostile", "--format", "slack")
    assert slack.returncode == 0, slack.stderr
    message = json.loads(slack.stdout)
    assert block_kit_problems(message) == []
    texts = visible_text(slack.stdout, "slack")
    raw = json.dumps(message)
    assert "<!channel>" not in raw and "<@U123>" not in raw and "&lt;!channel&gt;" in raw
    assert HOSTILE["risks"][0] in texts and HOSTILE["summary"].split(" |")[0] in texts
    assert [b["type"] for b in message["blocks"]].count("header") == 1  # the forged header stayed text


def test_digest_groups_by_priority_within_its_window(ws):
    ws.submit([manifest("old", env="staging")], now=at(-48), name="old.yaml")
    ws.submit([
        manifest("write-early", env="staging"),
        manifest("doc", type="documentation", env="dev"),
        manifest("schema", type="schema_migration", env="staging"),
        manifest("prod", env="production"),  # double approval: an interrupt, not the digest
    ], now=at(0), name="now.yaml")
    ws.submit([manifest("write-late", env="staging")], now=at(1), name="later.yaml")
    digest = ws.hitl("digest", "--format", "markdown", now=at(2))
    assert digest.returncode == 0, digest.stderr
    text = digest.stdout
    order = [match for match in re.findall(r"^### `([a-z-]+)`", text, flags=re.MULTILINE)]
    # Approvals first (schema migrations are high risk, writes to staging medium; older first), then reviews.
    assert order == ["schema", "write-early", "write-late", "doc"]
    assert text.index("Waiting for approval") < text.index("Post-hoc review")
    wider = ws.hitl("digest", "--since", "3d", "--format", "markdown", now=at(2)).stdout
    assert "### `old`" in wider
    for format in ("html", "slack"):
        result = ws.hitl("digest", "--format", format, now=at(2))
        assert result.returncode == 0, result.stderr
        seen = visible_text(result.stdout, format)
        assert all(name in seen for name in ("schema", "write-early", "write-late", "doc")) and "prod" not in re.findall(r"\bprod\b", seen)
    as_json = ws.json("digest", now=at(2))
    assert as_json["count"] == 4
    assert [[entry["id"] for entry in group["entries"]] for group in as_json["groups"]] == [
        ["schema", "write-early", "write-late"], ["doc"]]
    bad = ws.hitl("digest", "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_notify_speaks_json_like_every_workflow_command(ws):
    ws.submit([manifest("prod", env="production")])
    message = ws.json("notify", "prod")
    assert message["request"]["id"] == "prod"
    assert message["request"]["decision"]["tier"] == "double_approval"
    assert message["request"]["status"] == "pending"


def test_a_long_slack_digest_stays_within_block_kit_limits(ws):
    ws.submit([manifest(f"w{n}", env="staging") for n in range(30)])
    result = ws.hitl("digest", "--format", "slack")
    assert result.returncode == 0, result.stderr
    message = json.loads(result.stdout)
    assert block_kit_problems(message) == []
    assert len(message["blocks"]) <= 50
    assert "hitl queue" in message["blocks"][-1]["elements"][0]["text"]


def test_an_organisations_templates_replace_the_shipped_ones_by_name(ws):
    folder = ws.root / "acme-templates"
    folder.mkdir()
    (folder / "notify.md").write_text("ACME {{ request.id }}: {{ request.manifest.action.summary | md }}\n")
    profile = copy_profile(ws, "default", "acme", {"templates": "acme-templates"})
    ws.submit([tier_manifest("single_approval")], profile=str(profile))
    custom = ws.hitl("notify", "m-single_approval")
    assert custom.returncode == 0, custom.stderr
    assert custom.stdout.startswith("ACME m-single_approval: ")
    assert "<section" in ws.hitl("notify", "m-single_approval", "--format", "html").stdout  # still the shipped one

    (folder / "notify.slack.json").write_text('{"blocks": [{{ request.id }}]}')
    broken = ws.hitl("notify", "m-single_approval", "--format", "slack")
    assert broken.returncode == 4 and "blocks[0].type" in broken.stderr and "Traceback" not in broken.stderr
    (folder / "notify.html").write_text("{% if %}")
    syntax = ws.hitl("notify", "m-single_approval", "--format", "html")
    assert syntax.returncode == 4 and "template error" in syntax.stderr


LOG_INJECTION = "ok\n::error file=x::injected\n  ::stop-commands::tok\x1b[2J \x9b31m \u202egnp.exe \u200b \u2028 \x85 ##[group]"


@pytest.mark.parametrize("format", ["markdown", "html", "slack"])
def test_messages_keep_control_characters_and_workflow_commands_inert(ws, format):
    hostile = manifest("log-injection", type="write", env="staging", summary="fine", statement=LOG_INJECTION,
                       context={"why": LOG_INJECTION, "risks": [LOG_INJECTION], LOG_INJECTION: LOG_INJECTION})
    ws.submit([hostile])
    result = ws.hitl("notify", "log-injection", "--format", format)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    assert "x1b[2J" in result.stdout  # shown escaped (\x1b), not dropped
