"""The output formats: the one list. Each command offers some of them (its --format choices are built from its
own subset), and tests/test_vocabulary.py checks that every format is offered and each offer is one of these."""

from enum import StrEnum


class OutputFormat(StrEnum):
    TEXT = "text"
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    YAML = "yaml"
    MARKDOWN = "markdown"
    HTML = "html"
    SLACK = "slack"
    JUNIT = "junit"
    SARIF = "sarif"
    GITHUB = "github"
