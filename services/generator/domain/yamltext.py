"""YAML text of generated data: PyYAML's safe emitter into a string (no file I/O here).

Block style, keys in insertion order, Unicode kept, long lines not folded, multi-line strings
as literal blocks: the same data always gives the same text.
"""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's emitter when PyYAML has it (about 10x faster); same output as the pure one.
_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = (
        "|"
        if "\n" in value
        and all(c in {"\n", "\t"} or c >= " " for c in value)
        and not any(line != line.rstrip(" ") for line in value.split("\n"))
        else None
    )
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, *, header: str | None = None) -> str:
    text = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000, default_flow_style=False
    )
    return (header or "") + text


def dump_all(documents: list[Any], *, header: str | None = None) -> str:
    text = yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,
        default_flow_style=False,
    )
    return (header or "") + text


# ---------------------------------------------------------------- fast block emitter
# PyYAML's representer is pure Python and costs ~20 ms on a large test-data file, which breaks
# the compile budget. `dump_plain` covers the data the generator builds (dict, list, str, int,
# float, bool, None) in block style, with every string double-quoted (JSON escapes are valid
# YAML escapes), floats written so YAML 1.1 resolvers read them as floats. A unit test checks
# that `yaml.safe_load(dump_plain(x)) == x`.
import json as _json  # noqa: E402
import math as _math  # noqa: E402
import re as _re  # noqa: E402

_PLAIN_KEY = _re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})
_UNSAFE = _re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")


def _quote(text: str) -> str:
    quoted = _json.dumps(text, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _scalar(value: Any) -> str:  # noqa: PLR0911 - one return per scalar kind
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if _math.isnan(value) or _math.isinf(value):
            return ".nan" if _math.isnan(value) else (".inf" if value > 0 else "-.inf")
        text = repr(value)
        if "e" in text or "E" in text:
            mantissa, exponent = text.lower().split("e")
            if "." not in mantissa:
                mantissa += ".0"
            if exponent[0] not in "+-":
                exponent = "+" + exponent
            return f"{mantissa}e{exponent}"
        return text
    if isinstance(value, str):
        return _quote(value)
    raise TypeError(f"cannot emit {type(value).__name__}")


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) and key.lower() not in _YAML11_WORDS else _quote(key)


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            out[-1] += " {}"
            return
        for k, v in value.items():
            out.append(f"{pad}{_key(str(k))}:")
            if isinstance(v, dict | list) and v:
                _emit(v, indent + 1, out)
            elif isinstance(v, dict | list):
                out[-1] += " {}" if isinstance(v, dict) else " []"
            else:
                out[-1] += " " + _scalar(v)
        return
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                first = len(out)
                _emit(item, indent + 1, out)
                out[first] = pad + "- " + out[first][len(pad) + 2 :]
            elif isinstance(item, list) and item:
                out.append(pad + "-")
                _emit(item, indent + 1, out)
            elif isinstance(item, dict | list):
                out.append(pad + "- " + ("{}" if isinstance(item, dict) else "[]"))
            else:
                out.append(pad + "- " + _scalar(item))
        return
    out.append(pad + _scalar(value))


def dump_plain(data: dict[str, Any], *, header: str | None = None) -> str:
    out: list[str] = []
    _emit(data, 0, out)
    return (header or "") + "\n".join(out) + "\n"
