"""``atx mappings export FILE`` / ``import FILE``: the mapping table as JSON, for scripted set-up.

    {"format": "atx-mappings", "version": 1, "mappings": [
      {"org": "", "type": "tax", "source_key": "1:1", "target": "OUTPUT", "metadata": {}}, ...]}

``org`` is a tenant id, or "" for every organisation. Source keys are Autotask ids: a billing code
id (``account``), ``<tax region id>:<tax category id>`` (``tax``), a currency id (``currency``), an
invoice template id (``branding_theme``), a company id (``contact``), a product id (``item``), a
line-of-business association id (``routing``, whose target is a tenant id). The other routing
rules, whose targets are tenant ids too: a company id (``routing_company``), the value of the
company UDF named by the ``routing_udf_name`` setting (``routing_udf``, any text), an ISO currency
code (``routing_currency``). Routing entries apply to every organisation (``org`` ""). A bare list
of entries is accepted too. Import checks every entry first and changes nothing when one is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.store import MappingEntry, Store
from agent.store.mappings import KNOWN_MAPPING_TYPES
from agent.sync.routing import ROUTING_KINDS

FORMAT = "atx-mappings"
VERSION = 1
_ID = re.compile(r"[0-9]{1,18}")
_TAX = re.compile(r"[0-9]{1,18}:[0-9]{1,18}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_TEXT = re.compile(r"[^\x00-\x1f]{1,255}")
KEY_PATTERNS = {
    "tax": (_TAX, "<tax region id>:<tax category id>"),
    "routing_currency": (_CURRENCY, "an ISO currency code (e.g. GBP)"),
    "routing_udf": (_TEXT, "the user-defined field's value (one line of text)"),
}
TARGET_LIMIT = 255


@dataclass(frozen=True)
class Entry:
    org: str
    mapping_type: str
    source_key: str
    target: str
    metadata: dict[str, Any] = field(default_factory=dict)


def export_mappings(entries: Iterable[MappingEntry]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "mappings": [
            {
                "org": e.org,
                "type": e.mapping_type,
                "source_key": e.source_key,
                "target": e.target,
                "metadata": e.metadata,
            }
            for e in entries
        ],
    }


class ImportProblems(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse(text: str, *, source: str, connected: set[str]) -> tuple[list[Entry], list[str]]:
    """Entries and warnings; ``ImportProblems`` (one line per bad entry) when any is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportProblems(
            [f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"]
        ) from None
    if isinstance(data, dict):
        if data.get("format", FORMAT) != FORMAT or data.get("version", VERSION) != VERSION:
            raise ImportProblems(
                [f"{source}: not an atx mappings file of version {VERSION} (format/version)"]
            )
        items = data.get("mappings")
    else:
        items = data
    if not isinstance(items, list):
        raise ImportProblems([f'{source}: expected a list of mappings (or {{"mappings": [...]}})'])
    entries: list[Entry] = []
    problems: list[str] = []
    warnings: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, item in enumerate(items):
        where = f"mappings[{index}]"
        entry, problem = _entry(item)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        assert entry is not None
        slot = (entry.org, entry.mapping_type, entry.source_key)
        if slot in seen:
            problems.append(f"{where}: the same org, type and source_key as mappings[{seen[slot]}]")
            continue
        seen[slot] = index
        if entry.org and entry.org not in connected:
            warnings.append(f"{where}: organisation {entry.org} is not connected (yet)")
        if entry.mapping_type in ROUTING_KINDS and entry.target not in connected:
            warnings.append(f"{where}: routes to {entry.target}, not a connected organisation")
        entries.append(entry)
    if problems:
        raise ImportProblems(problems)
    return entries, warnings


def _entry(item: Any) -> tuple[Entry | None, str | None]:
    if not isinstance(item, dict):
        return None, "expected an object with type, source_key and target"
    unknown = sorted(set(item) - {"org", "type", "source_key", "target", "metadata"})
    if unknown:
        return None, f"unknown field(s) {', '.join(unknown)}"
    kind = item.get("type")
    if kind not in KNOWN_MAPPING_TYPES:
        return None, f"type {kind!r} is unknown; expected one of {', '.join(KNOWN_MAPPING_TYPES)}"
    org = item.get("org", "")
    if not isinstance(org, str):
        return None, 'org must be a tenant id, or "" for every organisation'
    key = item.get("source_key")
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not key.strip():
        return None, "source_key is missing"
    key = key.strip()
    pattern, wanted = KEY_PATTERNS.get(kind, (_ID, "an Autotask id"))
    if not pattern.fullmatch(key):
        return None, f"source_key {key!r} of a {kind} mapping must be {wanted}"
    if kind == "routing_currency":
        key = key.upper()
    target = item.get("target")
    if not isinstance(target, str) or not target.strip() or len(target) > TARGET_LIMIT:
        return None, f"target must be text of 1 to {TARGET_LIMIT} characters"
    if kind in ROUTING_KINDS and org:
        return None, f'{kind} mappings apply to every organisation: use "org": ""'
    metadata = item.get("metadata", {})
    if not isinstance(metadata, dict):
        return None, "metadata must be an object"
    return Entry(org.strip(), kind, key, target.strip(), metadata), None


def save(store: Store, entries: Iterable[Entry]) -> int:
    count = 0
    for entry in entries:
        store.mappings.set(
            entry.org, entry.mapping_type, entry.source_key, entry.target, entry.metadata
        )
        count += 1
    return count
