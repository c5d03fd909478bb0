"""Text for Xero fields: cleaned, cut to Xero's limits on a character boundary, never empty.

Xero's limits are .NET string lengths, i.e. UTF-16 code units, so a character outside the Basic
Multilingual Plane (most emoji) counts twice; cuts are measured that way. A cut never separates a
character from the combining marks, variation selectors or zero-width joiner that belong to it,
and ends with "…" so a reader can tell the text goes on in Autotask.
"""

from __future__ import annotations

import re
import unicodedata

DESCRIPTION_LIMIT = 4000  # LineItem.Description (reference xero-api §11, Item.Description)
ELLIPSIS = "…"
_ZWJ = "\u200d"
# What ``clean`` drops, as one character class (a regex runs in C; this runs for every text of
# every invoice): the control characters (category Cc, which Unicode's stability policy fixes as
# U+0000-U+001F and U+007F-U+009F) except tab and line feed, the surrogates (Cs: U+D800-U+DFFF)
# and the two non-characters.
_UNSENDABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(value: str | None) -> str:
    """``value`` without what cannot travel as text: control characters other than tab and line
    breaks, lone surrogates (unencodable as UTF-8) and the non-characters U+FFFE/U+FFFF."""
    if not value:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSENDABLE.sub("", value)


def utf16_length(value: str) -> int:
    # Two bytes a unit; "surrogatepass" counts a lone surrogate as the one unit it is.
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def _continues(ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (so a cut must not fall before it)."""
    code = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or ch == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def cut(value: str, limit: int) -> str:
    """``value`` if it fits in ``limit`` UTF-16 units, else its longest whole-character prefix
    that fits with "…" after it (trailing spaces dropped)."""
    if 2 * len(value) <= limit or utf16_length(value) <= limit:  # a character is 1 or 2 units
        return value
    budget = limit - utf16_length(ELLIPSIS)
    end = used = 0
    while end < len(value):
        size = 2 if ord(value[end]) > 0xFFFF else 1
        if used + size > budget:
            break
        used += size
        end += 1
    # Step back over a cluster the limit would split: marks after the cut, a joiner before it.
    while end > 0 and (_continues(value[end]) or value[end - 1] == _ZWJ):
        end -= 1
    return value[:end].rstrip() + ELLIPSIS


def single_line(value: str | None, limit: int) -> str:
    """A one-line field (names, references): whitespace runs collapsed to one space, cut."""
    return cut(" ".join(clean(value).split()), limit)


def description(text: str | None, item_name: str | None) -> tuple[str, str | None]:
    """A line's Description: the billing item's text, else its item name, else "Item".

    Returns the text and a provenance note when it had to fall back or cut. Xero refuses an
    empty description ("at least 1 char", spec ``LineItem.Description``).
    """
    for source, candidate in (("description", text), ("item name", item_name)):
        cleaned = clean(candidate)
        if cleaned.strip():
            result = cut(cleaned, DESCRIPTION_LIMIT)
            notes = [] if source == "description" else ["no description: used the item name"]
            if result != cleaned:
                notes.append(
                    f"description cut from {utf16_length(cleaned):,} to Xero's "
                    f"{DESCRIPTION_LIMIT:,} characters"
                )
            return result, "; ".join(notes) or None
    return "Item", 'no description or item name: sent "Item"'


def name_key(value: str | None) -> str:
    """How contact names compare: Unicode-composed, case-folded, whitespace runs as one space.

    NFC first, so "Café" typed with a combining accent equals the precomposed one.
    """
    return " ".join(unicodedata.normalize("NFC", clean(value)).casefold().split())
