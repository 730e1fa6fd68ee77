"""The Graph API ``fields`` syntax: ``content_id,author{display_name,ig_user_id}``.

Callers may write fields as the Graph string or as a nested Python structure; both are parsed into the same
tree and rendered the same way, so ``"content_id, author{ display_name }"`` and
``["content_id", {"author": ["display_name"]}]`` produce the identical request parameter
``content_id,author{display_name}``.

Accepted structures:

- a string in Graph syntax;
- an iterable whose elements are field names (``str``, which may themselves use Graph syntax) or mappings
  ``{name: sub_fields}``, where ``sub_fields`` is again a string, an iterable or a mapping;
- a mapping ``{name: sub_fields | None}`` (``None`` or an empty collection means "the field, no sub-fields").

Only the syntax is checked here; which names exist is the server's business (it answers ``(#100) Tried
accessing nonexisting field``), so this module stays valid when Meta adds fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

FieldTree = dict[str, "FieldTree"]
"""A parsed field list: each name maps to its sub-fields (an empty dict when it has none). Order is kept."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_fields(fields: Any) -> FieldTree:
    """Parse ``fields`` (Graph string or nested structure) into a :data:`FieldTree`.

    :raises ValueError: naming ``fields`` and the rule broken (empty name, unbalanced braces, bad type).
    """
    tree: FieldTree = {}
    _merge_into(tree, fields, path="fields")
    if not tree:
        raise ValueError("fields: must name at least one field (for example 'content_id')")
    return tree


def render_fields(fields: Any) -> str:
    """Render ``fields`` (Graph string or nested structure) as the Graph ``fields`` parameter.

    >>> render_fields(["content_id", {"author": ["display_name"]}])
    'content_id,author{display_name}'
    """
    return _render(parse_fields(fields))


def _render(tree: FieldTree) -> str:
    parts = []
    for name, sub in tree.items():
        parts.append(f"{name}{{{_render(sub)}}}" if sub else name)
    return ",".join(parts)


def _merge(tree: FieldTree, name: str, sub: FieldTree, path: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{path}: {name!r} is not a field name (letters, digits and '_', not starting with a digit)"
        )
    existing = tree.setdefault(name, {})
    for sub_name, sub_sub in sub.items():
        _merge(existing, sub_name, sub_sub, f"{path}.{name}")


def _merge_into(tree: FieldTree, value: Any, path: str) -> None:
    if isinstance(value, str):
        for name, sub in _parse_string(value, path).items():
            _merge(tree, name, sub, path)
    elif isinstance(value, Mapping):
        for name, sub_value in value.items():
            if not isinstance(name, str):
                raise ValueError(f"{path}: field names must be strings, got {type(name).__name__}")
            sub: FieldTree = {}
            if sub_value is not None:
                _merge_into(sub, sub_value, f"{path}.{name}")
            _merge(tree, name.strip(), sub, path)
    elif isinstance(value, Iterable):
        for element in value:
            if not isinstance(element, (str, Mapping)):
                raise ValueError(
                    f"{path}: each element must be a field name or a {{name: sub_fields}} mapping, "
                    f"got {type(element).__name__}"
                )
            _merge_into(tree, element, path)
    else:
        raise ValueError(
            f"{path}: expected a Graph fields string or a list of names and {{name: sub_fields}} mappings, "
            f"got {type(value).__name__}"
        )


def _parse_string(text: str, path: str) -> FieldTree:
    """Parse Graph syntax with a small recursive descent over the characters."""
    position = 0

    def parse_list(depth: int) -> FieldTree:
        nonlocal position
        result: FieldTree = {}
        expect_name = True
        while position < len(text):
            char = text[position]
            if char.isspace():
                position += 1
            elif char == ",":
                if expect_name:
                    raise ValueError(f"{path}: empty field name at position {position} in {text!r}")
                expect_name = True
                position += 1
            elif char == "}":
                if depth == 0:
                    raise ValueError(f"{path}: unbalanced '}}' at position {position} in {text!r}")
                if expect_name:
                    raise ValueError(
                        f"{path}: empty field name before '}}' at position {position} in {text!r}"
                    )
                position += 1
                return result
            else:
                match = _NAME.match(text, position)
                if match is None:
                    raise ValueError(f"{path}: unexpected {char!r} at position {position} in {text!r}")
                if not expect_name:
                    raise ValueError(f"{path}: missing ',' before position {position} in {text!r}")
                name = match.group(0)
                position = match.end()
                while position < len(text) and text[position].isspace():
                    position += 1
                sub: FieldTree = {}
                if position < len(text) and text[position] == "{":
                    position += 1
                    sub = parse_list(depth + 1)
                _merge(result, name, sub, path)
                expect_name = False
        if depth > 0:
            raise ValueError(f"{path}: unbalanced '{{' in {text!r} (missing '}}')")
        if expect_name and result:
            raise ValueError(f"{path}: trailing ',' in {text!r}")
        return result

    return parse_list(0)
