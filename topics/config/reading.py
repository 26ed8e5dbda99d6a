"""Reading YAML as untrusted input, and echoing bad values in error messages.

YAML files and ``--set`` values are parsed with a safe loader that counts the
values aliases add (an alias bomb stops at :data:`MAX_ALIAS_VALUES`); an error
message shows at most :data:`MAX_ECHO_CHARS` of a bad value.
"""

from __future__ import annotations

import difflib
import reprlib
from pathlib import Path
from typing import Any

import yaml

from topics.errors import ConfigError

# Values a YAML file may add through aliases (each ``*name`` counting as the values
# it repeats): far above any real use (the shipped configs use no alias), far below
# what an alias bomb expands to (10^9 values from 500 bytes).
MAX_ALIAS_VALUES = 10_000
# How much of a bad value an error message shows.
MAX_ECHO_CHARS = 200


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        near = difflib.get_close_matches(
            path.name, sorted(p.name for p in path.parent.glob("*.y*ml")), n=1
        )
        hint = f"; did you mean {path.with_name(near[0])}?" if near else ""
        raise ConfigError(f"config file not found: {path}{hint}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents whose aliases add more than :data:`MAX_ALIAS_VALUES`.

    An alias is cheap to parse but names a whole subtree; nested aliases multiply
    (a 526-byte "billion laughs" file is 10^9 values to everything that walks the
    result: validation, error messages, hashing). Each composed node is weighed
    by the values it stands for, aliases included, before anything is built; a
    node outweighing every value written so far by more than the budget is refused.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._weights: dict[int, int] = {}
        self._written = 0  # nodes composed from the text, aliases not counted

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.check_event(yaml.AliasEvent)
        node: Any = super().compose_node(parent, index)
        if alias:  # the node it names, weighed when it was composed
            if id(node) not in self._weights:
                raise yaml.composer.ComposerError(
                    None, None, "an alias (*name) inside the value it names", node.start_mark
                )
            return node
        if isinstance(node, yaml.SequenceNode):
            weight = 1 + sum(self._weight(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            weight = 1 + sum(self._weight(k) + self._weight(v) for k, v in node.value)
        else:
            weight = 1
        self._written += 1
        if weight > self._written + MAX_ALIAS_VALUES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases (*name) repeat more than {MAX_ALIAS_VALUES:,} values; "
                "write the values out or use fewer aliases",
                node.start_mark,
            )
        self._weights[id(node)] = weight
        return node

    def _weight(self, node: Any) -> int:
        return self._weights[id(node)]


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with the alias budget of :class:`_BoundedLoader`."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = MAX_ECHO_CHARS
_SHORT_REPR.maxother = MAX_ECHO_CHARS
_SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = _SHORT_REPR.maxdict = _SHORT_REPR.maxset = 10


def echo(value: Any) -> str:
    """``repr(value)`` of at most about :data:`MAX_ECHO_CHARS` characters, whatever its size."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "...(cut)"


def clip(message: str, limit: int = 2 * MAX_ECHO_CHARS) -> str:
    return message if len(message) <= limit else message[:limit] + "...(cut)"
