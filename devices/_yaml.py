"""Strict YAML reading for operator-written files.

PyYAML's safe loader keeps the last of two equal keys without a word; in a profile that silently
drops a metric's real range, so duplicates are an error here, reported with their line.
"""

from __future__ import annotations

from typing import Any

import yaml


class StrictYamlError(Exception):
    """A YAML file that cannot be read; the message is ready to show after the file name."""


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise StrictYamlError(f"line {line}: duplicate key {key!r}")
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_strict(text: str) -> Any:
    """Parse one YAML document; syntax errors and duplicate keys become :class:`StrictYamlError`."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise StrictYamlError(f"{where}invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise StrictYamlError(f"invalid YAML: {exc}") from exc
