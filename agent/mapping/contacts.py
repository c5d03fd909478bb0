"""Which Xero contact an Autotask company's invoices go to (issue 3 §3, reference xero-api §11).

In order, the first rule that finds something decides:

1. the user's contact mapping for the company (a ContactID) — it wins over everything;
2. the active contact whose ContactNumber is the Autotask company id (the key the agent writes);
3. the active contact whose AccountNumber is the company number;
4. the active contact whose name equals the company name, ignoring case, Unicode composition and
   surrounding or repeated whitespace (Cloud Depot's exact, case-sensitive match makes duplicates,
   product-and-patterns A2 #6);
5. otherwise a new contact, created first: ``new_contact``.

Archived contacts are never matched: posting to one fails, and "restore it or pick another" is a
human decision. They still matter in two places: one holding the company id as its ContactNumber
blocks (creating another with the same ContactNumber would clash, and that contact was most likely
made by this agent and archived on purpose), and an AccountNumber already taken by any contact is
left off the new contact (Xero: "Account Number already exists"). Two active contacts matching at
the same rule block too: guessing between them could put invoices on the wrong customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.autotask.refdata import Company, Contact
from agent.mapping.catalog import OrgCatalog, Record, is_active, text
from agent.mapping.document import BlockReason
from agent.mapping.inputs import MappingTables
from agent.mapping.text import clean, name_key, single_line

NAME_LIMIT = 255
NUMBER_LIMIT = 50  # ContactNumber, AccountNumber
_FIX = "choose the Xero contact for it in Mappings → Contacts"


@dataclass(frozen=True, slots=True)
class ContactChoice:
    reference: dict[str, str]  # the invoice's Contact: {"ContactID"} or {"ContactNumber"}
    rule: str
    new_contact: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()


def company_label(company: Company) -> str:
    name = single_line(company.companyName, 120)
    return f'company "{name}" (id {company.id})' if name else f"company id {company.id}"


def choose_contact(
    company: Company, billing_contact: Contact | None, tables: MappingTables, catalog: OrgCatalog
) -> ContactChoice | BlockReason:
    label = company_label(company)
    override = tables.contacts.get(company.id)
    if override:
        return _override(company, override, catalog)

    number = str(company.id)
    by_number = catalog.contacts_numbered(number)
    archived = [c for c in by_number if not is_active(c)]
    rules: list[tuple[str, list[Record]]] = [
        (f"ContactNumber {number}", [c for c in by_number if is_active(c)])
    ]
    account_number = " ".join(clean(company.companyNumber).split())
    if account_number:
        rules.append(
            (
                f"AccountNumber {account_number}",
                [c for c in catalog.contacts_with_account_number(account_number) if is_active(c)],
            )
        )
    name = name_key(company.companyName)
    if name:
        rules.append(
            (f'name "{single_line(company.companyName, 120)}"', catalog.active_contacts_named(name))
        )

    for rule, found in rules:
        if len(found) == 1:
            return ContactChoice({"ContactID": text(found[0], "ContactID")}, f"matched by {rule}")
        if len(found) > 1:
            names = ", ".join(f'"{text(c, "Name")}"' for c in found[:3])
            return BlockReason(
                "contact",
                f"{label} matches {len(found)} Xero contacts by {rule} ({names}) in {catalog.name};"
                f" {_FIX}",
                "contact",
                str(company.id),
            )
        if rule.startswith("ContactNumber") and archived:
            return BlockReason(
                "contact",
                f'{label} belongs to the Xero contact "{text(archived[0], "Name")}" '
                f"(ContactNumber {number}), which is archived in {catalog.name}; restore it in "
                f"Xero and refresh the catalogs, or {_FIX}",
                "contact",
                str(company.id),
            )
    return _create(company, billing_contact, catalog, account_number)


def _override(
    company: Company, contact_id: str, catalog: OrgCatalog
) -> ContactChoice | BlockReason:
    rule = f"contact mapping for company id {company.id}"
    known = catalog.contact(contact_id)
    if known is None:
        # The contacts catalog is the one most often stale (contacts are made all day); the user
        # chose this id, so it goes out, and Xero names the problem if the id is really wrong.
        return ContactChoice(
            {"ContactID": contact_id},
            rule,
            warnings=(
                f"mapped contact {contact_id} is not in the cached contacts of {catalog.name}",
            ),
        )
    if not is_active(known):
        return BlockReason(
            "contact",
            f'the contact mapping for {company_label(company)} points at "{text(known, "Name")}",'
            f" which is archived in {catalog.name}; restore it in Xero and refresh the catalogs,"
            f" or {_FIX}",
            "contact",
            str(company.id),
        )
    return ContactChoice(
        {"ContactID": text(known, "ContactID")}, f'{rule}: "{text(known, "Name")}"'
    )


def _create(
    company: Company, billing_contact: Contact | None, catalog: OrgCatalog, account_number: str
) -> ContactChoice:
    """A Contacts element for the company: keyed by ContactNumber = the Autotask company id."""
    warnings: list[str] = []
    number = str(company.id)
    contact: dict[str, Any] = {
        "Name": single_line(company.companyName, NAME_LIMIT) or f"Autotask company {number}",
        "ContactNumber": number,
    }
    if account_number:
        taken = bool(catalog.contacts_with_account_number(account_number))
        if taken or len(account_number) > NUMBER_LIMIT:
            warnings.append(f"AccountNumber {account_number} left off the new contact (in use)")
        else:
            contact["AccountNumber"] = account_number
    if billing_contact is not None:
        email = " ".join(clean(billing_contact.emailAddress).split())
        if _plausible_email(email):
            contact["EmailAddress"] = email
        elif email:
            warnings.append(f"billing contact email {email!r} left off: Xero would refuse it")
        for field, value in (
            ("FirstName", billing_contact.firstName),
            ("LastName", billing_contact.lastName),
        ):
            if single_line(value, NAME_LIMIT):
                contact[field] = single_line(value, NAME_LIMIT)
    address = _billing_address(company)
    if address:
        contact["Addresses"] = [{"AddressType": "POBOX", **address}]
    phone = single_line(company.phone, 50)
    if phone:
        contact["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": phone}]
    rule = f"no match in {catalog.name}: a new contact with ContactNumber {number}"
    return ContactChoice({"ContactNumber": number}, rule, contact, tuple(warnings))


def _plausible_email(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(local and at and "." in domain and " " not in email and len(email) <= 255)


def _billing_address(company: Company) -> dict[str, str]:
    """The bill-to address, or the company's main address when no bill-to field is set."""
    billing = {
        "AddressLine1": company.billingAddress1,
        "AddressLine2": company.billingAddress2,
        "City": company.billToCity,
        "Region": company.billToState,
        "PostalCode": company.billToZipCode,
        "AttentionTo": company.billToAttention,
    }
    if not any(single_line(v, 500) for k, v in billing.items() if k != "AttentionTo"):
        billing = {
            "AddressLine1": company.address1,
            "AddressLine2": company.address2,
            "City": company.city,
            "Region": company.state,
            "PostalCode": company.postalCode,
        }
    limits = {"AddressLine1": 500, "AddressLine2": 500, "PostalCode": 50}
    found = {k: single_line(v, limits.get(k, 255)) for k, v in billing.items()}
    return {k: v for k, v in found.items() if v}
