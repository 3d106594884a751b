"""Reading YAML and JSON input files into documents, with where each one starts."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hitl_cli.errors import Problem

INPUT_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    source: str
    line: int
    data: Any


class _NoAliasLoader(yaml.SafeLoader):
    """Manifests have no use for anchors; refusing aliases makes alias bombs impossible."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def _label(path: Path, index: int, count: int) -> str:
    return f"{path}#{index + 1}" if count > 1 else str(path)


def read_documents(path: Path, allow_aliases: bool = False) -> tuple[list[Document], list[Problem]]:
    """Every non-empty document in a file; a file that cannot be parsed is one problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return [], [Problem(str(path), "", f"not UTF-8 text ({error.reason} at byte {error.start})")]
    except OSError as error:
        return [], [Problem(str(path), "", f"cannot read: {error.strerror}")]
    if path.suffix == ".json":
        return _json_documents(path, text)
    return _yaml_documents(path, text, yaml.SafeLoader if allow_aliases else _NoAliasLoader)


def _json_documents(path: Path, text: str) -> tuple[list[Document], list[Problem]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [Problem(str(path), "", f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")]
    items = data if isinstance(data, list) else [data]
    return [Document(_label(path, i, len(items)), 1, item) for i, item in enumerate(items)], []


def _yaml_documents(path: Path, text: str, loader_class) -> tuple[list[Document], list[Problem]]:
    loader = loader_class(text)
    found: list[tuple[int, Any]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                found.append((node.start_mark.line + 1, loader.construct_document(node)))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        return [], [Problem(str(path), "", f"invalid YAML{where}: {problem}")]
    except RecursionError:
        return [], [Problem(str(path), "", "invalid YAML: nested too deeply")]
    finally:
        loader.dispose()
    found = [(line, data) for line, data in found if data is not None]
    return [Document(_label(path, i, len(found)), line, data) for i, (line, data) in enumerate(found)], []


def input_files(paths: list[Path]) -> list[Path]:
    """Files as given, folders walked recursively for YAML and JSON, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in INPUT_SUFFIXES))
        else:
            files.append(path)
    return files
