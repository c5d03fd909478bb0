"""Contacts and items: lookups from documents, create and upsert (reference §11).

Contacts: ``Name`` is unique among active contacts, ``ContactNumber`` and ``AccountNumber`` among
all; PUT fails on a clash, POST updates the contact matched by ``ContactID`` or ``ContactNumber``.
A document naming a contact only by ``Name`` (or an unknown ``ContactNumber`` plus ``Name``) gets a
new contact, as Xero creates one; it is created only if the document itself is stored.
Items: ``Code`` is required (<= 30 characters) and unique; POST upserts by ``ItemID`` or ``Code``.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Literal

from sandbox.world import Record
from sandbox.xero.ledger import Ledger, WriteOutcome
from sandbox.xero.serialize import ZERO_GUID, to_decimal, unit_amount

Mode = Literal["create", "upsert", "update"]

_CONTACT_READ_ONLY = {
    "ContactID",
    "UpdatedDateUTC",
    "IsCustomer",
    "IsSupplier",
    "HasValidationErrors",
    "ValidationErrors",
    "StatusAttributeString",
    "Balances",
    "HasAttachments",
    "Attachments",
}
_ITEM_READ_ONLY = {
    "ItemID",
    "UpdatedDateUTC",
    "ValidationErrors",
    "StatusAttributeString",
    "TotalCostPool",
    "QuantityOnHand",
    "QuantityAvailable",
    "QuantityOnBackOrder",
}


def resolve_contact(ledger: Ledger, raw: Any, may_create: bool, errors: list[str]) -> Record | None:
    """The contact reference a document stores: {"ContactID"} or, until stored, {"_new": ...}."""
    if not isinstance(raw, dict) or not any(
        raw.get(k) for k in ("ContactID", "ContactNumber", "Name")
    ):
        errors.append("A Contact must be specified for this type of transaction")
        return None
    if raw.get("ContactID"):
        found = ledger.contact(str(raw["ContactID"]))
        if found is None:
            errors.append(f"Contact with ContactID '{raw['ContactID']}' could not be found.")
            return None
        return {"ContactID": found["ContactID"]}
    if raw.get("ContactNumber"):
        found = ledger.contact_by_number(str(raw["ContactNumber"]))
        if found is not None:
            return {"ContactID": found["ContactID"]}
        if not raw.get("Name"):
            errors.append(
                f"Contact with ContactNumber '{raw['ContactNumber']}' could not be found."
            )
            return None
    found = ledger.active_contact_by_name(str(raw["Name"]))
    if found is not None:
        return {"ContactID": found["ContactID"]}
    if not may_create:
        errors.append(f"Contact '{raw['Name']}' could not be found.")
        return None
    return {"_new": {k: raw[k] for k in ("Name", "ContactNumber") if raw.get(k)}}


def materialise_contact(ledger: Ledger, ref: Record | None) -> Record | None:
    if ref is None or "_new" not in ref:
        return ref
    contact = {
        **ref["_new"],
        "ContactID": str(uuid.uuid4()),
        "ContactStatus": "ACTIVE",
        "UpdatedDateUTC": ledger.now(),
    }
    ledger.org.contacts.append(contact)
    return {"ContactID": contact["ContactID"]}


# -- contacts -------------------------------------------------------------------------------------


def write_contact(
    ledger: Ledger, raw: Record, mode: Mode, target: Record | None = None
) -> WriteOutcome:
    existing = target
    if mode == "upsert":
        if raw.get("ContactID"):
            existing = ledger.contact(str(raw["ContactID"]))
        elif raw.get("ContactNumber"):
            existing = ledger.contact_by_number(str(raw["ContactNumber"]))
    if mode == "create" and raw.get("ContactID") and ledger.contact(str(raw["ContactID"])):
        return _fail(raw, "ContactID", [f"Contact {raw['ContactID']} already exists."], True)
    doc = dict(existing or {"ContactStatus": "ACTIVE"})
    doc.update({k: copy.deepcopy(v) for k, v in raw.items() if k not in _CONTACT_READ_ONLY})
    own_id = existing["ContactID"] if existing else None
    errors = _contact_errors(ledger, doc, own_id)
    if errors:
        return _fail(
            raw | ({"ContactID": own_id} if own_id else {}), "ContactID", errors, bool(own_id)
        )
    doc["UpdatedDateUTC"] = ledger.now()
    if existing is None:
        doc["ContactID"] = str(uuid.uuid4())
        ledger.org.contacts.append(doc)
        return WriteOutcome(doc, doc)
    existing.clear()
    existing.update(doc)
    return WriteOutcome(existing, existing)


def _contact_errors(ledger: Ledger, doc: Record, own_id: str | None) -> list[str]:
    errors: list[str] = []
    name = str(doc.get("Name") or "").strip()
    if not name:
        errors.append("The contact name must be specified.")
    elif len(name) > 255:
        errors.append("The contact name must not be more than 255 characters long.")
    others = [c for c in ledger.org.contacts if c["ContactID"] != own_id]
    if (
        name
        and doc.get("ContactStatus", "ACTIVE") == "ACTIVE"
        and any(
            c.get("ContactStatus") == "ACTIVE" and str(c.get("Name", "")).lower() == name.lower()
            for c in others
        )
    ):
        errors.append(
            f"The contact name {name} is already assigned to another contact. The contact name "
            "must be unique across all active contacts."
        )
    number = doc.get("ContactNumber")
    if number and len(str(number)) > 50:
        errors.append("The contact number must not be more than 50 characters long.")
    if number and any(c.get("ContactNumber") == number for c in others):
        # Worded as quoted by Chargebee's Xero error notes.
        errors.append(
            f"The contact number {number} is already assigned to another contact. The contact "
            "number must be unique across all contacts."
        )
    account_number = doc.get("AccountNumber")
    if account_number and any(c.get("AccountNumber") == account_number for c in others):
        errors.append("Account Number already exists")  # calcinai/xero-php#880
    if doc.get("ContactStatus") not in ("ACTIVE", "ARCHIVED", "GDPRREQUEST"):
        errors.append(f"ContactStatus '{doc.get('ContactStatus')}' is not valid.")
    if len(doc.get("ContactPersons") or []) > 5:
        errors.append("A contact can have at most 5 contact persons.")
    currency = doc.get("DefaultCurrency")
    if currency and not ledger.currency_enabled(str(currency)):
        errors.append(f"Organisation is not subscribed to currency {currency}")
    return errors


# -- items ----------------------------------------------------------------------------------------


def write_item(
    ledger: Ledger, raw: Record, mode: Mode, *, unitdp: int, target: Record | None = None
) -> WriteOutcome:
    existing = target
    if mode == "upsert":
        existing = ledger.item(item_id=raw.get("ItemID")) if raw.get("ItemID") else None
        existing = existing or (ledger.item(code=str(raw["Code"])) if raw.get("Code") else None)
    errors: list[str] = []
    if mode == "create" and raw.get("Code") and ledger.item(code=str(raw["Code"])):
        errors.append(f"Item code '{raw['Code']}' already exists.")
    doc = dict(existing or {"IsTrackedAsInventory": False})
    doc.update({k: copy.deepcopy(v) for k, v in raw.items() if k not in _ITEM_READ_ONLY})
    errors += _item_errors(ledger, doc, existing, unitdp)
    own_id = existing["ItemID"] if existing else None
    if errors:
        return _fail(raw | ({"ItemID": own_id} if own_id else {}), "ItemID", errors, bool(own_id))
    doc.setdefault("IsSold", "SalesDetails" in doc)
    doc.setdefault("IsPurchased", "PurchaseDetails" in doc)
    doc["UpdatedDateUTC"] = ledger.now()
    if existing is None:
        doc["ItemID"] = str(uuid.uuid4())
        ledger.org.items.append(doc)
        return WriteOutcome(doc, doc)
    existing.clear()
    existing.update(doc)
    return WriteOutcome(existing, existing)


def _item_errors(ledger: Ledger, doc: Record, existing: Record | None, unitdp: int) -> list[str]:
    errors: list[str] = []
    code = str(doc.get("Code") or "")
    if not code:
        errors.append("Item Code must be specified.")
    elif len(code) > 30:
        # Quoted in Chargebee's Xero sync error notes.
        errors.append("Price List Item Code must not be more than 30 characters long.")
    holder = ledger.item(code=code) if code else None
    if holder is not None and existing is not None and holder is not existing:
        errors.append(f"Item code '{code}' already exists.")
    if len(str(doc.get("Name") or "")) > 50:
        errors.append("Item Name must not be more than 50 characters long.")
    for details in ("SalesDetails", "PurchaseDetails"):
        section = doc.get(details)
        if not isinstance(section, dict):
            continue
        if section.get("UnitPrice") is not None:
            try:
                section["UnitPrice"] = unit_amount(to_decimal(section["UnitPrice"]), unitdp)
            except ValueError:
                errors.append(f"{details}.UnitPrice is not a valid number.")
        account_code = section.get("AccountCode")
        if account_code:
            account = ledger.account(code=str(account_code))
            if account is None or account.get("Status") != "ACTIVE":
                errors.append(f"Account code '{account_code}' is not a valid code for this item.")
        tax_type = section.get("TaxType")
        if tax_type and ledger.tax_rate(str(tax_type)) is None:
            errors.append(
                f"The TaxType code {tax_type} does not exist or cannot be used for this type of "
                "transaction."
            )
    return errors


def _fail(raw: Record, id_field: str, errors: list[str], keep_id: bool) -> WriteOutcome:
    echo = copy.deepcopy(raw)
    if not keep_id:
        echo[id_field] = ZERO_GUID
    return WriteOutcome(None, echo, errors)
