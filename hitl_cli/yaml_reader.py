"""YAML through libyaml, bounded before anything is built.

One pass over the parser's events refuses what is not allowed — aliases (manifests have no use for them,
so alias bombs cannot exist) and nesting deeper than the limit — before a single node is composed. Then
libyaml composes and PyYAML's safe constructor builds the values, refusing duplicate keys (two parsers
must never disagree about which `action` a manifest holds) and, where aliases are allowed, a document
that would expand past the limit.
"""

from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

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


def _check_events(text: str, allow_aliases: bool, max_depth: int, max_values: int, max_documents: int) -> None:
    parser = _Parser(text)
    depth = documents = nodes = 0
    try:
        while parser.check_event():
            event = parser.get_event()
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
    finally:
        parser.dispose()


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
