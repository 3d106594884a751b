"""YAML through libyaml, bounded before anything is built.

One pass over the parser's events refuses what is not allowed — aliases (manifests have no use for them,
so alias bombs cannot exist) and nesting deeper than the limit — before a single node is composed. Then
libyaml composes and PyYAML's safe constructor builds the values, refusing duplicate keys (two parsers
must never disagree about which `action` a manifest holds) and, where aliases are allowed, a document
that would expand past the limit.

Where aliases are not allowed (manifests: thousands of files a run), plain documents are built in that one
pass over the events instead, each scalar by the safe constructor's own function for its tag: about half the
time. Anything out of the ordinary on the way (an anchor, a tag other than the safe scalars', a mapping or
list with a tag, a key that is not a plain scalar, a limit reached, any error) sends the file back through the
two passes above, so what a file holds, and every refusal and its message, are theirs.
"""

from collections.abc import Iterator
from functools import lru_cache

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # libyaml, when PyYAML was built with it (its wheels are)
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - the pure-Python parser keeps every guarantee, only slower

    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)

MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
# The scalar tags built in the one pass (merge `<<` and value `=` keys, and every other tag, are not).
_SCALAR_TAGS = frozenset(
    {_STR_TAG, *(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "binary", "timestamp"))}
)
_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_VALUES = (*_OPENING, yaml.ScalarEvent, yaml.AliasEvent)


class InputLimitError(yaml.YAMLError):
    """A document within YAML's rules but beyond hitl's limits (or shapes it refuses)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _BoundedConstructor(yaml.constructor.SafeConstructor):
    allow_aliases = False

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            self._refuse_duplicate_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _refuse_duplicate_keys(self, node: MappingNode) -> None:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                if not self.allow_aliases:
                    raise InputLimitError("merge keys (<<) are not allowed", key_node.start_mark)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # the safe constructor refuses unhashable keys itself
            key = self.construct_object(key_node)
            try:
                duplicate = key in seen
            except TypeError:
                continue
            if duplicate:
                raise InputLimitError(f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)


class _Loader(_Parser, _BoundedConstructor, yaml.resolver.Resolver):
    """libyaml's parser and composer, the bounded safe constructor, the standard resolver."""

    def __init__(self, stream, allow_aliases: bool):
        _Parser.__init__(self, stream)
        _BoundedConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.allow_aliases = allow_aliases


def _events(text: str) -> Iterator[yaml.Event]:
    """The parser's events; the parser is disposed of however the reading ends."""
    parser = _Parser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _check_events(text: str, allow_aliases: bool, max_depth: int, max_values: int, max_documents: int) -> None:
    depth = documents = nodes = 0
    for event in _events(text):
        kind = type(event)
        if kind in _VALUES:
            nodes += 1
            if nodes > max_values:
                raise InputLimitError(f"holds more than {max_values} values (HITL_MAX_VALUES_PER_FILE)", event.start_mark)
        if kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > max_documents:
                raise InputLimitError(f"holds more than {max_documents} documents (HITL_MAX_DOCUMENTS_PER_FILE)", event.start_mark)
        elif kind in _OPENING:
            depth += 1
            if depth > max_depth:
                raise InputLimitError(f"nested deeper than {max_depth} levels", event.start_mark)
        elif kind in _CLOSING:
            depth -= 1
        elif kind is yaml.AliasEvent and not allow_aliases:
            raise InputLimitError("aliases are not allowed", event.start_mark)


def _expanded_size(root: Node, limit: int) -> int:
    """How many values the node graph expands to once every alias is copied; cycles and excess are refused."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            on_path.discard(key)
            if sizes[key] > limit:
                raise InputLimitError(f"expands to more than {limit} values through aliases", node.start_mark)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise InputLimitError("an alias refers to a value that contains it", node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml_documents(
    text: str, allow_aliases: bool, max_depth: int, max_nodes: int, max_values: int, max_documents: int
) -> list[tuple[int, object]]:
    """(1-based first line, value) of every document; any YAMLError (InputLimitError included) propagates.

    A file holding more than max_values values or max_documents documents is refused before anything is built;
    max_nodes bounds what aliases may expand the values to."""
    if not allow_aliases:
        try:
            return _built_from_events(text, max_depth, max_values, max_documents)
        except Exception:  # noqa: BLE001 - anything unusual, refusals included, is left to the two passes
            pass
    return _composed_documents(text, allow_aliases, max_depth, max_nodes, max_values, max_documents)


def _composed_documents(
    text: str, allow_aliases: bool, max_depth: int, max_nodes: int, max_values: int, max_documents: int
) -> list[tuple[int, object]]:
    """load_yaml_documents in two passes: every event checked, then libyaml's nodes built (the module's docstring)."""
    _check_events(text, allow_aliases, max_depth, max_values, max_documents)
    loader = _Loader(text, allow_aliases)
    found: list[tuple[int, object]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if allow_aliases:
                _expanded_size(node, max_nodes)
            found.append((node.start_mark.line + 1, loader.construct_document(node)))
    finally:
        loader.dispose()
    return found


class _Unusual(Exception):
    """What the one pass leaves to the two passes: they build it, or refuse it with their own message."""


class _Scalars(yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """The standard resolver and the safe constructor's functions for plain scalars, without a parser."""

    def __init__(self):
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.by_tag = {tag: self.yaml_constructors[tag] for tag in _SCALAR_TAGS}

    def built(self, tag: str | None, value: str, implicit: tuple[bool, bool]) -> object:
        if tag is None or tag == "!":
            tag = self.resolve(ScalarNode, value, implicit)
        if tag == _STR_TAG:
            return value
        if tag not in self.by_tag:
            raise _Unusual
        return self.by_tag[tag](self, ScalarNode(tag, value))

    def opened(self, event: yaml.CollectionStartEvent) -> dict | list:
        node, expected, empty = _CONTAINERS[type(event)]
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(node, None, event.implicit)
        if tag != expected:
            raise _Unusual
        return empty()


_CONTAINERS = {
    yaml.MappingStartEvent: (MappingNode, _MAP_TAG, dict),
    yaml.SequenceStartEvent: (SequenceNode, _SEQ_TAG, list),
}
_SCALARS = _Scalars()
# Every scalar the safe constructor builds is immutable, and manifests repeat most of theirs (keys, environments,
# systems...): each distinct short (tag, text, implicitness) is resolved and built once, the last so many remembered.
_remembered_scalar = lru_cache(maxsize=16384)(_SCALARS.built)
_REMEMBERED_LENGTH = 256


def _scalar(event: yaml.ScalarEvent) -> object:
    if len(event.value) <= _REMEMBERED_LENGTH:
        return _remembered_scalar(event.tag, event.value, event.implicit)
    return _SCALARS.built(event.tag, event.value, event.implicit)


_NO_KEY = object()
_PASSED_OVER = (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)


def _built_from_events(text: str, max_depth: int, max_values: int, max_documents: int) -> list[tuple[int, object]]:
    """load_yaml_documents without aliases for a plain file, in one pass over the parser's events (the module's
    docstring): raises _Unusual, or whatever the parser raises, for anything else."""
    found: list[tuple[int, object]] = []
    # Each open mapping or list: [the value, a mapping's key still waiting for its value (or _NO_KEY)].
    open_values: list[list] = []
    documents = values = line = 0
    for event in _events(text):
        kind = type(event)
        if kind in _PASSED_OVER:
            continue
        if kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > max_documents:
                raise _Unusual
            continue
        if kind in _CLOSING:
            _place(open_values, found, line, open_values.pop()[0], scalar=False)
            continue
        values += 1
        if values > max_values or getattr(event, "anchor", None) is not None or kind is yaml.AliasEvent:
            raise _Unusual
        if not open_values:
            line = event.start_mark.line + 1
        if kind is yaml.ScalarEvent:
            _place(open_values, found, line, _scalar(event), scalar=True)
        elif len(open_values) < max_depth:
            open_values.append([_SCALARS.opened(event), _NO_KEY])
        else:
            raise _Unusual
    return found


def _place(open_values: list[list], found: list, line: int, value: object, scalar: bool) -> None:
    """A finished value: the document's, an item of the open list, or the open mapping's next key or value."""
    if not open_values:
        found.append((line, value))
        return
    innermost = open_values[-1]
    container, key = innermost
    if isinstance(container, list):
        container.append(value)
    elif key is not _NO_KEY:
        container[key] = value
        innermost[1] = _NO_KEY
    elif not scalar or value in container:  # a mapping or list as a key, or a duplicate key
        raise _Unusual
    else:
        innermost[1] = value
