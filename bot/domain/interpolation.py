"""Compose interpolation read as compose reads it, nesting included, filling in only the variables given."""

from __future__ import annotations

import re
from collections.abc import Mapping

# compose-spec "Interpolation" (compose-go's template package): `$$`, `$VAR`, `${VAR}`, and `${VAR<op>arg}`
# with op one of `:-` `-` `:?` `?` `:+` `+`, where arg may itself hold interpolations.
_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPS = (":-", ":?", ":+", "-", "?", "+")
_OPS_SHOWN = " ".join(_OPS)


class _Unreadable(ValueError):
    """One problem; the whole string is then left as it was, never half substituted."""


def interpolate(text: str, values: Mapping[str, str], problems: list[str]) -> str:
    """`text` with the variables in `values` filled in, still in compose's escaped form (`$$` stays `$$`,
    since `docker stack deploy` interpolates the result again); on any other variable, or text compose could
    not read, note one problem and return `text` unchanged."""
    if "$" not in text:
        return text
    try:
        result, end = _sequence(text, 0, values, nested=False)
    except _Unreadable as exc:
        problems.append(str(exc))
        return text
    assert end == len(text)
    return result


def _sequence(text: str, i: int, values: Mapping[str, str], nested: bool) -> tuple[str, int]:
    # Up to the end, or (nested) up to the `}` that closes the enclosing ${...}, which is left at `i`.
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == "}" and nested:
            return "".join(out), i
        if char != "$":
            out.append(char)
            i += 1
            continue
        after = text[i + 1: i + 2]
        if after == "$":
            out.append("$$")
            i += 2
        elif after == "{":
            value, i = _braced(text, i, values)
            out.append(value)
        elif (name := _NAME.match(text, i + 1)) is not None:
            out.append(_lookup(name.group(0), values))
            i = name.end()
        else:
            raise _Unreadable(f"a lone '$' in {text!r} (write '$$' for a literal dollar sign)")
    if nested:
        raise _Unreadable(f"{text!r}: a '${{' has no closing '}}'")
    return "".join(out), i


def _braced(text: str, start: int, values: Mapping[str, str]) -> tuple[str, int]:
    name = _NAME.match(text, start + 2)
    if name is None:
        raise _unreadable(text, start)
    i = name.end()
    if text.startswith("}", i):
        return _lookup(name.group(0), values), i + 1
    op = next((op for op in _OPS if text.startswith(op, i)), None)
    if op is None:
        if i >= len(text):
            raise _Unreadable(f"{text!r}: a '${{' has no closing '}}'")
        raise _unreadable(text, start)
    arg, end = _sequence(text, i + len(op), values, nested=True)
    # A variable not given is refused whatever the operator: its branch would depend on the environment.
    value = _lookup(name.group(0), values)
    if op == ":?" and not value:
        raise _Unreadable(f"${{{name.group(0)}}} is empty, and {text!r} requires it")
    if op in ("+", ":+"):
        return (arg if op == "+" or value else ""), end + 1
    return (arg if op == ":-" and not value else value), end + 1


def _lookup(name: str, values: Mapping[str, str]) -> str:
    if name in values:
        return values[name]
    raise _Unreadable(f"${{{name}}} would be read from the deployer's environment by docker stack deploy "
                      "(only ${TENANT} is substituted; write the value, or '$$' for a literal '$')")


def _unreadable(text: str, start: int) -> _Unreadable:
    stop = text.find("}", start)
    shown = text[start:] if stop < 0 else text[start:stop + 1]
    return _Unreadable(f"cannot read {shown!r} in {text!r} (compose reads $VAR, ${{VAR}} and "
                       f"${{VAR<op>text}} with op one of {_OPS_SHOWN})")
