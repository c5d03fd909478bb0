"""sandbox/specs/ holds verbatim copies of the project's shared API descriptions."""

from __future__ import annotations

import hashlib
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
VENDORED = REPO / "sandbox" / "specs"
SHARED = REPO.parent / "shared" / "specs"
# vendored file -> its place under shared/specs
COPIES = {
    "autotask-rest-v1.0-swagger.json": "autotask/autotask-rest-v1.0-swagger.json",
    "xero_accounting.yaml": "xero/xero_accounting.yaml",
    "xero-identity.yaml": "xero/xero-identity.yaml",
}


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recorded_checksums(source_md: pathlib.Path) -> dict[str, str]:
    """File name -> sha256, from the provenance notes (both styles used in SOURCE.md)."""
    text = source_md.read_text(encoding="utf-8")
    found = {
        pathlib.PurePath(name).name: digest
        for digest, name in re.findall(r"^([0-9a-f]{64})\s+(\S+)$", text, flags=re.M)
    }
    inline = re.search(r"^# (\S+) — provenance.*?sha256 ([0-9a-f]{64})", text, flags=re.S | re.M)
    if inline:
        found[inline.group(1)] = inline.group(2)
    return found


def test_vendored_specs_match_the_checksums_in_their_provenance_notes() -> None:
    recorded = recorded_checksums(VENDORED / "SOURCE.md")

    assert set(COPIES) <= set(recorded)
    for name in COPIES:
        assert sha256(VENDORED / name) == recorded[name], name


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"no shared specs folder at {SHARED}")
@pytest.mark.parametrize("name", sorted(COPIES))
def test_vendored_spec_is_byte_identical_to_the_shared_copy(name: str) -> None:
    assert sha256(VENDORED / name) == sha256(SHARED / COPIES[name])
