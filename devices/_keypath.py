"""Turn pydantic validation errors into ``key.path[2].name: reason`` lines for operators.

pydantic's default rendering spreads one problem over three lines and says "Extra inputs are not
permitted" for a typo; a person fixing a YAML file wants the key path in the file's own terms and
the list of keys that would have been accepted.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

# Inputs worth echoing after pydantic's message; containers would drown the line.
_SCALARS = (str, int, float, bool, type(None))


def key_path(loc: tuple[int | str, ...]) -> str:
    """``('metrics', 2, 'unit')`` -> ``metrics[2].unit``; the empty path is the whole file."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType) or get_args(annotation):
        for arg in get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue  # list/tuple index: the element model is already selected
        field = model.model_fields.get(part)
        model = None if field is None else _nested_model(field.annotation)
    return model


def _describe(error: ErrorDetails, root: type[BaseModel]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = f" (allowed: {', '.join(model.model_fields)})" if model else ""
        return f"{key_path(loc)}: unknown key{allowed}"
    if kind == "missing":
        return f"{key_path(loc)}: required key is missing"
    message = error["msg"]
    value = error.get("input")
    if isinstance(value, _SCALARS) and repr(value) not in message:
        message += f" (got {value!r})"
    return f"{key_path(loc)}: {message}"


def format_validation_errors(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One line per problem of validating ``root``, in the order pydantic found them."""
    errors = exc.errors()
    locs = [tuple(error["loc"]) for error in errors]

    def has_deeper_error(loc: tuple[int | str, ...]) -> bool:
        return any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)

    # A list whose items all failed also reports "too short"; the item errors say it better.
    return [
        _describe(error, root)
        for error, loc in zip(errors, locs, strict=True)
        if not (error["type"] == "too_short" and has_deeper_error(loc))
    ]
