"""Compose text in and out: YAML read as Docker reads it, written deterministically, strings walked by path."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from bot.errors import StackError

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


# libyaml's parser and emitter ship in PyYAML's wheels: the rendered demo stack parses in 0.57 ms against 8.2 ms
# pure-Python. The resolver and constructor below stay Python, so the rules are the same either way.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_SafeLoader):  # type: ignore[misc]
    """PyYAML reads YAML 1.1, Docker's Go parser reads (mostly) 1.2; differences would silently change values.

    Under 1.1 `ports: [80:80]` is the base-60 integer 4880 and `yes`/`on` are booleans, so a round trip
    would deploy something the author never wrote. Here only true/false are booleans and numbers are never
    base 60; duplicate keys, which Docker refuses, are refused too instead of the last one winning.
    """

    yaml_implicit_resolvers = {  # noqa: RUF012 -- PyYAML's own class-level registry
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key.value!r}", key.start_mark)
                seen.add(key.value)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
                       r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


class _Dumper(_SafeDumper):  # type: ignore[misc]
    """Writes every shared node in full: anchors in a rendered file would hide what each service gets."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StackError(f"{source}: not valid YAML{where}: {problem}") from None


def dump_yaml(document: Mapping[str, Any]) -> str:
    # The 1.1 resolver of the dumper quotes anything a 1.1 or 1.2 reader could take for a non-string.
    return yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=4096)


def check_version(document: Mapping[str, Any], source: str) -> None:
    """Swarm deploys compose format 3 only; tagpin writes deploy.rollback_config, which needs 3.7+."""
    version = document.get("version")
    if not isinstance(version, str):
        raise StackError(f"{source}: write version: \"3.8\" (quoted: unquoted 3.10 would read as 3.1)"
                         if version is not None else f"{source}: no version; write version: \"3.8\"")
    major, _, minor = version.partition(".")
    if major != "3" or (minor and (not minor.isdigit() or int(minor) < 7)):
        # Docker validates against the schema of the declared version: rollback_config fails below 3.7.
        raise StackError(f"{source}: compose version {version!r} cannot be deployed as tagpin renders it; "
                         "use version \"3.8\" (3.7 or later: Swarm needs 3, rollback_config needs 3.7)")


Path = tuple[str, ...]


def map_strings(node: Any, change: Callable[[str, Path], str], path: Path = ()) -> Any:
    """A copy of `node` with `change(string, path)` applied to every string value and mapping key."""
    if isinstance(node, str):
        return change(node, path)
    if isinstance(node, Mapping):
        return {(change(k, path) if isinstance(k, str) else k): map_strings(v, change, (*path, str(k)))
                for k, v in node.items()}
    if isinstance(node, list):
        return [map_strings(item, change, (*path, str(i))) for i, item in enumerate(node)]
    return node


def where(path: Path) -> str:
    """`service frontend (environment.API)` for a path inside a service, else the dotted path."""
    if len(path) >= 2 and path[0] == "services":
        inner = ".".join(path[2:])
        return f"service {path[1]}" + (f" ({inner})" if inner else "")
    return ".".join(path) or "top level"
