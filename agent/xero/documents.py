"""Reading sales invoices and credit notes back by their Xero ids (voids and changes, issue 5 §5).

Before the agent deletes, voids or updates a document it posted, it reads the document as Xero
shows it now (status, amounts paid and credited): a user may have approved it, paid it, or voided
it meanwhile, and after an unknown outcome the write may already have happened.

- Invoices: ``GET /Invoices?IDs=`` (lines left out), 50 ids a call (longer lists fail, §10).
- Credit notes: ``GET /CreditNotes`` has no ``IDs`` parameter [spec]; ``where`` with
  ``CreditNoteID==Guid("...")`` terms, 25 a call.

Everything goes through the gateway (the organisation's governor and its one retry policy).
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.xero.gateway import XeroGateway
from agent.xero.lookups import NUMBERS_PER_CALL, WHERE_TERMS_PER_CALL, Record, _chunks, _list


def documents_by_id(
    gateway: XeroGateway, tenant_id: str, kind: str, ids: Iterable[str]
) -> dict[str, Record]:
    """``kind`` "invoice" or "credit_note": id as asked -> Xero's record; ids Xero does not know
    are absent from the answer."""
    wanted = list(dict.fromkeys(i for i in ids if i))
    found: dict[str, Record] = {}
    if kind == "invoice":
        id_field, collection, size = "InvoiceID", "Invoices", NUMBERS_PER_CALL
    elif kind == "credit_note":
        id_field, collection, size = "CreditNoteID", "CreditNotes", WHERE_TERMS_PER_CALL
    else:
        raise ValueError(f"documents_by_id reads invoices and credit notes, not {kind!r}")
    for chunk in _chunks(wanted, size):
        if kind == "invoice":
            reply = gateway.call(tenant_id, "get_invoices", i_ds=list(chunk))
        else:
            where = " OR ".join(f'CreditNoteID==Guid("{i}")' for i in chunk)
            reply = gateway.call(tenant_id, "get_credit_notes", where=where)
        by_id = {str(r.get(id_field) or "").lower(): r for r in _list(reply.body, collection)}
        for doc_id in chunk:
            record = by_id.get(doc_id.lower())
            if record is not None:
                found[doc_id] = record
    return found
