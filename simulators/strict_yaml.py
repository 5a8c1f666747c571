"""Strict YAML for scenario files: duplicate keys are an error with their line (PyYAML would
silently keep the last, which in a scenario drops an incident's real window), and pydantic
errors are turned into ``key.path: message`` lines.

Kept here rather than imported: the registry's helper of the same purpose is private to
``devices``.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError


class StrictYamlError(ValueError):
    pass


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise StrictYamlError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise StrictYamlError(str(exc).replace("\n", " ")) from exc


def error_lines(exc: ValidationError) -> list[str]:
    """``incidents[2].for: ...`` per problem, with the aliases the file uses."""
    out = []
    for err in exc.errors():
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = err["msg"].removeprefix("Value error, ")
        out.append(f"{path or '(top level)'}: {message}")
    return out
