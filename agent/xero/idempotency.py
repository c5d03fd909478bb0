"""``Idempotency-Key`` values: deterministic, so a retry of the same batch replays instead of
writing twice (reference §9).

Xero keeps a key for about 6 minutes per app; the same key with a different request is refused
with 400. So a key must change exactly when the request changes: it is a hash of the
organisation, the document kind, the HTTP method, and, for every document of the batch in order,
its outbox row and the hash of the payload actually sent. Past the 6 minutes a key protects
nothing: the caller looks documents up by number before posting them again (§12).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from agent.store.canonical import content_hash

MAX_KEY_LENGTH = 128  # [spec components.parameters.idempotencyKey]


def payload_hash(document: Mapping[str, Any]) -> str:
    """The same hash the outbox stores for a payload (canonical JSON, sha256)."""
    return content_hash(document)


def document_key(outbox_id: int | str, payload_digest: str) -> str:
    """Names one document of a batch: its outbox row and the hash of its payload."""
    return f"{outbox_id}:{payload_digest}"


def batch_key(
    tenant_id: str,
    kind: str,
    method: str,
    document_keys: Sequence[str],
    documents: Sequence[Mapping[str, Any]],
) -> str:
    """The key of one request: same rows + same payloads (+ same org, kind, method) -> same key.

    Payloads are hashed here too, so a caller whose document keys omit the payload hash still
    gets a new key when a payload changes (a reused key with a changed body would be refused).
    """
    if len(document_keys) != len(documents):
        raise ValueError("one key per document is needed")
    digest = hashlib.sha256()
    for part in (tenant_id.lower(), kind, method.upper()):
        digest.update(part.encode() + b"\0")
    for key, document in zip(document_keys, documents, strict=True):
        digest.update(key.encode() + b"\0" + payload_hash(document).encode() + b"\0")
    key = f"atx-{kind}-{digest.hexdigest()}"
    assert len(key) <= MAX_KEY_LENGTH
    return key
