"""WWW-Authenticate parsing (RFC 9110 11.6.1): every challenge of a header, and the one tagpin can answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.request import parse_http_list

# RFC 9110 5.6.2 token characters; an item "token = value" is a parameter, anything else opens a challenge.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# A value is a token or a quoted string (RFC 9110 11.2), so a token68 such as "abc==" is not a parameter.
_PARAM = re.compile(rf'({_TOKEN})\s*=\s*({_TOKEN}|".*)', re.DOTALL)
_SCHEME = re.compile(rf"({_TOKEN})(?:\s+(.*))?", re.DOTALL)
# Schemes tagpin answers, best first: a bearer token is scoped to one repository, Basic sends the password.
ANSWERABLE = ("bearer", "basic")


@dataclass(frozen=True)
class Challenge:
    scheme: str                                   # lowercase: schemes are case-insensitive
    params: dict[str, str] = field(default_factory=dict)   # names lowercase, values unquoted


def _unquote(value: str) -> str:
    # parse_http_list has already dropped quoted-pair backslashes; an unterminated quote keeps its text.
    value = value.strip()
    if value.startswith('"'):
        value = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return value


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in `header`; several WWW-Authenticate headers arrive joined by ", " (RFC 9110 5.3)."""
    found: list[tuple[str, dict[str, str]]] = []
    for item in parse_http_list(header):  # splits at commas outside quoted strings
        param = _PARAM.fullmatch(item)
        if param and found:
            found[-1][1][param[1].lower()] = _unquote(param[2])
            continue
        scheme = _SCHEME.fullmatch(item)
        if scheme is None:
            continue  # stray text (an empty item, a token68 fragment): nothing to answer
        params: dict[str, str] = {}
        first = _PARAM.fullmatch(scheme[2] or "")
        if first:
            params[first[1].lower()] = _unquote(first[2])
        found.append((scheme[1].lower(), params))  # a token68 (Negotiate's blob) is not kept: never answered
    return [Challenge(scheme, params) for scheme, params in found]


def choose(challenges: list[Challenge]) -> Challenge | None:
    """The challenge tagpin answers (Bearer with a realm, else Basic), else the first offered, else None."""
    for wanted in ANSWERABLE:
        for challenge in challenges:
            if challenge.scheme == wanted and (wanted != "bearer" or challenge.params.get("realm")):
                return challenge
    return challenges[0] if challenges else None
