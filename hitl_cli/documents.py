"""Reading YAML and JSON input files into documents, with where each one starts."""

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hitl_cli import settings
from hitl_cli.errors import Problem
from hitl_cli.yaml_reader import load_yaml_documents

INPUT_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    source: str
    line: int
    data: Any


class InputTooLarge(Exception):
    """A file over HITL_MAX_FILE_BYTES."""

    def __init__(self, limit: int):
        super().__init__(f"larger than {limit} bytes (HITL_MAX_FILE_BYTES)")


class NotRegularFile(Exception):
    """A FIFO, device, socket or folder given as input: reading it could block or never end."""

    KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
             stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}

    def __init__(self, mode: int):
        super().__init__(f"not a regular file ({self.KINDS.get(stat.S_IFMT(mode), 'a special file')}): not read")


class TooManyDocuments(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"holds more than {limit} documents (HITL_MAX_DOCUMENTS_PER_FILE)")


class TooManyValues(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"holds more than {limit} mappings and lists (HITL_MAX_VALUES_PER_FILE)")


class DuplicateKey(ValueError):
    """Two values for one key: parsers disagree on which one counts, so hitl accepts neither."""

    def __init__(self, key: str):
        super().__init__(f"duplicate key {key!r}")


def _label(path: Path, index: int, count: int) -> str:
    return f"{path}#{index + 1}" if count > 1 else str(path)


def _read_bounded(path: Path) -> bytes:
    """At most the size limit (plus one byte, to tell that it is over): a huge or endless file is never read whole."""
    limit = settings.max_file_bytes()
    _refuse_special(os.stat(path).st_mode)  # a socket cannot even be opened: say what it is
    # Opened without blocking and checked again through the descriptor itself, so a FIFO cannot hang the run
    # and a path swapped for one after the first check cannot slip through.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    with os.fdopen(descriptor, "rb") as stream:
        _refuse_special(os.fstat(descriptor).st_mode)
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(limit)
    return data


def _refuse_special(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFile(mode)


def read_documents(path: Path, allow_aliases: bool = False, whole: bool = False) -> tuple[list[Document], list[Problem]]:
    """Every non-empty document in a file; a file that cannot be parsed, or is beyond the limits, is one problem.
    whole: a JSON file is one document, even when it is an array (see json_documents)."""
    try:
        text = _read_bounded(path).decode("utf-8")
    except UnicodeDecodeError as error:
        return [], [Problem(str(path), "", f"not UTF-8 text ({error.reason} at byte {error.start})")]
    except (InputTooLarge, NotRegularFile) as error:
        return [], [Problem(str(path), "", str(error))]
    except OSError as error:
        return [], [Problem(str(path), "", f"cannot read: {error.strerror or error}")]
    if path.suffix.lower() == ".json":
        return json_documents(path, text, whole)
    return _yaml_documents(path, text, allow_aliases)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise DuplicateKey(duplicate)
    return mapping


def json_documents(path: Path | str, text: str, whole: bool = False) -> tuple[list[Document], list[Problem]]:
    """The documents of a JSON text read from `path` (a file, or where else it was kept: a top-level array holds
    one document per element, unless the text is read `whole`, as one document), each problem found instead under
    the limits of any input file."""
    try:
        _within_value_limit(text, settings.max_values_per_file())
        data = _json_value(text, None if whole else settings.max_documents_per_file())
        within_depth(data, settings.max_nesting_depth())
        _refuse_lone_surrogates(text, data)
    except json.JSONDecodeError as error:
        return [], [Problem(str(path), "", f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")]
    except RecursionError:
        return [], [Problem(str(path), "", f"invalid JSON: nested deeper than {settings.max_nesting_depth()} levels")]
    except (TooManyDocuments, TooManyValues) as error:
        return [], [Problem(str(path), "", str(error))]
    except ValueError as error:  # a duplicate key, an integer too long to convert, a depth over the limit
        return [], [Problem(str(path), "", f"invalid JSON: {str(error).split(';')[0]}")]
    items = data if isinstance(data, list) and not whole else [data]
    return [Document(_label(path, i, len(items)), 1, item) for i, item in enumerate(items)], []


_BLANK = re.compile(r"[ \t\n\r]*")
_STRING_OR_CONTAINER = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[{]')


def _within_value_limit(text: str, limit: int) -> None:
    """Raise TooManyValues when the text opens more mappings and lists than the limit, before any is built.
    Counting brackets bounds them from above; only a text over that bound is scanned past its strings."""
    if text.count("{") + text.count("[") <= limit:
        return
    containers = 0
    for match in _STRING_OR_CONTAINER.finditer(text):
        if match.group() in ("[", "{"):
            containers += 1
            if containers > limit:
                raise TooManyValues(limit)


def _json_value(text: str, max_documents: int | None) -> Any:
    """json.loads, except that a top-level array is decoded one element at a time and refused (TooManyDocuments)
    as soon as it holds more elements than a file may have documents (none: the text is one document)."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    start = _BLANK.match(text).end()
    if max_documents is None or not text.startswith("[", start):
        return decoder.decode(text)
    items: list[Any] = []
    at = _BLANK.match(text, start + 1).end()
    if text.startswith("]", at):
        at += 1
    else:
        while True:
            if len(items) == max_documents:
                raise TooManyDocuments(max_documents)
            item, at = decoder.raw_decode(text, at)
            items.append(item)
            at = _BLANK.match(text, at).end()
            if text.startswith(",", at):
                at = _BLANK.match(text, at + 1).end()
            elif text.startswith("]", at):
                at += 1
                break
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
    if _BLANK.match(text, at).end() != len(text):
        raise json.JSONDecodeError("Extra data", text, _BLANK.match(text, at).end())
    return items


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(text: str, data: Any) -> None:
    """JSON can escape half of a UTF-16 pair (YAML cannot): that is no text, and could not be printed."""
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds an unpaired UTF-16 surrogate escape") from None


def within_depth(data: Any, limit: int) -> None:
    """Raise ValueError when mappings and lists nest deeper than the limit (iteratively: no recursion)."""
    level = [data]
    depth = 0
    while level:
        containers = [item for item in level if isinstance(item, (dict, list))]
        if not containers:
            return
        depth += 1
        if depth > limit:
            raise ValueError(f"nested deeper than {limit} levels")
        level = [child for item in containers for child in (item.values() if isinstance(item, dict) else item)]


def _yaml_documents(path: Path, text: str, allow_aliases: bool) -> tuple[list[Document], list[Problem]]:
    try:
        found = load_yaml_documents(
            text, allow_aliases, settings.max_nesting_depth(),
            settings.max_expanded_nodes(),
            settings.max_values_per_file(),
            settings.max_documents_per_file(),
        )
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        return [], [Problem(str(path), "", f"invalid YAML{where}: {problem}")]
    except (ValueError, OverflowError) as error:  # a value YAML can spell but Python cannot hold: 2026-02-30, 10**5000
        return [], [Problem(str(path), "", f"invalid YAML: {str(error).split(';')[0]}")]
    except RecursionError:
        return [], [Problem(str(path), "", "invalid YAML: nested too deeply")]
    found = [(line, data) for line, data in found if data is not None]
    return [Document(_label(path, i, len(found)), line, data) for i, (line, data) in enumerate(found)], []


def input_files(paths: list[Path]) -> list[Path]:
    """Files as given, folders walked recursively for YAML and JSON, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES))
        else:
            files.append(path)
    return files
