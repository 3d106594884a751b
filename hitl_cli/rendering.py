"""Interrupt messages and digests from Jinja2 templates, in Markdown, HTML and Slack Block Kit JSON.

Templates live in hitl_cli/templates/; a profile's `templates` folder (relative to the profile file)
overrides any of them by file name. Hostile manifest text stays inert in every format:
- HTML templates are autoescaped;
- every text value is shown through hitl_cli.escaping (control and format characters escaped, no workflow
  commands), in Markdown and HTML by the environment's finalize;
- Markdown values go through the `md` filter (inline) or `code_block` (fenced, fence longer than any
  backtick run in the text);
- in Slack templates every `{{ expression }}` is emitted as a JSON value (the environment's finalize), so
  manifest text can never break out of its string; `mrkdwn` escapes Slack's control characters and keeps
  texts within Block Kit limits. The result is parsed and its Block Kit shape checked before it is printed.
Templates run sandboxed, so an organisation's template cannot reach into Python.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from hitl_cli.errors import InvalidInput, Problem
from hitl_cli.escaping import markdown_code_block, markdown_code_span, markdown_inline, markdown_table_cell, visible, visible_lines

# Jinja2 is imported when a message is rendered: a verdict enqueues messages through this module's Slack
# helpers, and a signed approve must not pay for the template engine (bench/RESULTS.md).
if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

SHIPPED_TEMPLATES = Path(__file__).resolve().parent / "templates"
SUFFIXES = {"markdown": "md", "html": "html", "slack": "slack.json"}

# Block Kit limits (api.slack.com/reference/block-kit): the message and the text objects of its blocks.
SLACK_MAX_BLOCKS = 50
SLACK_BLOCK_TYPES = {
    "header", "section", "context", "divider", "actions", "image", "rich_text", "input", "file", "video"
}
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_FIELD_CHARS = 2000
SLACK_MAX_FIELDS = 10
SLACK_MAX_CONTEXT_ELEMENTS = 10

def slack_mrkdwn(value: Any, limit: int = SLACK_SECTION_CHARS) -> str:
    """Slack's three control characters escaped (no mentions, links or channel pings from manifest text),
    cut to `limit` characters without splitting an escape."""
    text = visible_lines(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]
    return cut + "…"


def slack_bullets(items: list | None, limit: int, empty: str) -> str:
    """Escaped items as `• item` lines within `limit` characters; `empty` (already Slack text) when there are none."""
    if not items:
        return empty
    return slack_mrkdwn("\n".join(f"• {item}" for item in items), limit)


def slack_code(value: Any, limit: int) -> str:
    """A code block whose content cannot close it early."""
    return "```" + slack_mrkdwn(str(value).replace("```", "`\u200b``"), limit - 6) + "```"


def slack_plain(value: Any, limit: int = SLACK_HEADER_CHARS) -> str:
    text = visible(" ".join(str(value).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason_line(reason) -> str:
    return f"[{reason.tier}] {reason.code}: {reason.message}"


def when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


def signed_by(verdict: Any) -> str:
    """A verdict's person and the key that signed it (a VerdictView), for a list of who decided."""
    return f"{verdict.person} ({'signed with ' + verdict.signed_with if verdict.signed_with else 'UNSIGNED'})"


def _json_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _visible_value(value: Any) -> Any:
    """Text (not markup a filter already built) with its lines kept, each one visible."""
    return visible_lines(value) if isinstance(value, str) and not isinstance(value, Markup) else value


@dataclass(frozen=True)
class Templates:
    """The template folders to search, the organisation's own first."""

    organisation: Path | None = None

    def _environment(self, slack: bool) -> "SandboxedEnvironment":
        from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, select_autoescape
        from jinja2.sandbox import SandboxedEnvironment

        folders = [SHIPPED_TEMPLATES] if self.organisation is None else [self.organisation, SHIPPED_TEMPLATES]
        if self.organisation is not None and not self.organisation.is_dir():
            problem = "the template folder named by the profile's `templates` does not exist"
            raise InvalidInput([Problem(str(self.organisation), "", problem)])
        environment = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=_json_value if slack else _visible_value,
        )
        environment.filters.update(
            md=markdown_inline,
            code=markdown_code_span,
            cell=markdown_table_cell,
            code_block=markdown_code_block,
            mrkdwn=slack_mrkdwn,
            bullets=slack_bullets,
            slack_code=slack_code,
            plain=slack_plain,
            when=when,
            reason_line=reason_line,
            signed_by=signed_by,
        )
        return environment

    def render(self, name: str, format: str, context: dict[str, Any]) -> str:
        """Render `<name>.<suffix of format>`; a template that fails or breaks Block Kit is invalid input (exit 4)."""
        from jinja2 import TemplateError

        template_name = f"{name}.{SUFFIXES[format]}"
        try:
            text = self._environment(format == "slack").get_template(template_name).render(**context)
        except TemplateError as error:
            where = f"{getattr(error, 'filename', None) or template_name}"
            line = f" line {error.lineno}" if getattr(error, "lineno", None) else ""
            raise InvalidInput([Problem(where, "", f"template error{line}: {error.message or error}")]) from None
        if format == "slack":
            return _checked_slack(text, template_name)
        return text


def _checked_slack(text: str, template_name: str) -> str:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            [Problem(template_name, "", f"the template produced invalid JSON (line {error.lineno}: {error.msg})")]
        ) from None
    problems = [Problem(template_name, path, message) for path, message in block_kit_problems(message)]
    if problems:
        raise InvalidInput(problems)
    return json.dumps(_within_block_limit(message), indent=2, ensure_ascii=False) + "\n"


def _within_block_limit(message: dict) -> dict:
    """A digest longer than one message allows ends, at a whole entry, with a pointer to the rest."""
    blocks = message["blocks"]
    if len(blocks) <= SLACK_MAX_BLOCKS:
        return message
    kept = blocks[: SLACK_MAX_BLOCKS - 1]
    dividers = [i for i, block in enumerate(kept) if block["type"] == "divider"]
    if dividers:
        kept = kept[: dividers[-1] + 1]
    note = "Not everything fits in one Slack message: `hitl queue --delivery digest` lists every request."
    return {**message, "blocks": [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]}


def _text_problems(path: str, text: Any, limit: int, types=("plain_text", "mrkdwn")) -> list[tuple[str, str]]:
    if not isinstance(text, dict) or text.get("type") not in types:
        return [(path, f"expected a text object of type {' or '.join(types)}")]
    content = text.get("text")
    if not isinstance(content, str) or not 1 <= len(content) <= limit:
        return [(f"{path}.text", f"expected 1 to {limit} characters")]
    return []


def block_kit_problems(message: Any) -> list[tuple[str, str]]:
    """(field path, message) for every way the message breaks Block Kit's top-level shape and text limits."""
    if not isinstance(message, dict) or not isinstance(message.get("blocks"), list):
        return [("", 'expected an object with a "blocks" list')]
    problems: list[tuple[str, str]] = []
    for index, block in enumerate(message["blocks"]):
        path = f"blocks[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in SLACK_BLOCK_TYPES:
            problems.append((f"{path}.type", f"not a Block Kit block type: {kind!r}"))
        elif kind == "header":
            problems += _text_problems(f"{path}.text", block.get("text"), SLACK_HEADER_CHARS, ("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append((path, "a section needs text or fields"))
            if "text" in block:
                problems += _text_problems(f"{path}.text", block["text"], SLACK_SECTION_CHARS)
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > SLACK_MAX_FIELDS:
                problems.append((f"{path}.fields", f"expected at most {SLACK_MAX_FIELDS} fields"))
            else:
                for i, item in enumerate(fields):
                    problems += _text_problems(f"{path}.fields[{i}]", item, SLACK_FIELD_CHARS)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= SLACK_MAX_CONTEXT_ELEMENTS:
                problems.append((f"{path}.elements", f"expected 1 to {SLACK_MAX_CONTEXT_ELEMENTS} elements"))
            else:
                for i, item in enumerate(elements):
                    problems += _text_problems(f"{path}.elements[{i}]", item, SLACK_SECTION_CHARS)
    return problems
