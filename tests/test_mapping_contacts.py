"""Contact matching and creation (issue 3 §3; reference xero-api §11 Contacts)."""

from __future__ import annotations

from typing import Any

from test_mapping_support import (
    COMPANY_ID,
    au_catalog,
    company,
    contact,
    options,
    snapshot,
    tables,
)

from agent.mapping import Blocked, MappedDocument, MappingTables, map_invoice
from agent.mapping.catalog import OrgCatalog


def catalog_with(*contacts: dict[str, Any]) -> OrgCatalog:
    return au_catalog(contacts=tuple(contacts))


def result_for(cat: OrgCatalog, tabs: MappingTables | None = None, **snap: Any) -> Any:
    return map_invoice(snapshot(**snap), tabs or tables(), cat, options())


def matched_id(cat: OrgCatalog, tabs: MappingTables | None = None, **snap: Any) -> str:
    doc = result_for(cat, tabs, **snap)
    assert isinstance(doc, MappedDocument), doc
    assert doc.new_contact is None
    return str(doc.payload["Contact"]["ContactID"])


def test_contact_matched_by_contact_number_equal_to_company_id() -> None:
    mine = contact("Someone Else Entirely", ContactNumber=str(COMPANY_ID))
    assert (
        matched_id(catalog_with(contact("Harbour View Dental Pty Ltd"), mine)) == mine["ContactID"]
    )


def test_contact_matched_by_account_number_equal_to_company_number() -> None:
    mine = contact("HVD", AccountNumber="C10000")
    assert matched_id(catalog_with(mine)) == mine["ContactID"]


def test_contact_matched_by_name_ignores_case_and_extra_spaces() -> None:
    mine = contact("  harbour   VIEW dental pty LTD ")
    assert matched_id(catalog_with(mine)) == mine["ContactID"]


def test_contact_name_match_ignores_unicode_composition() -> None:
    mine = contact("Cafe\u0301 Mu\u0308ller Pty Ltd")
    cat = catalog_with(mine)
    assert matched_id(cat, company=company(companyName="Café Müller Pty Ltd")) == mine["ContactID"]


def test_contact_number_match_wins_over_a_name_match() -> None:
    by_name = contact("Harbour View Dental Pty Ltd")
    by_number = contact("HVD (old name)", ContactNumber=str(COMPANY_ID))
    assert matched_id(catalog_with(by_name, by_number)) == by_number["ContactID"]


def test_contact_override_wins_over_every_match() -> None:
    by_number = contact("HVD", ContactNumber=str(COMPANY_ID))
    chosen = contact("Harbour Group (head office)")
    tabs = tables(contacts={COMPANY_ID: chosen["ContactID"]})
    assert matched_id(catalog_with(by_number, chosen), tabs) == chosen["ContactID"]


def test_contact_override_not_in_the_cached_catalog_is_used_with_a_warning() -> None:
    tabs = tables(contacts={COMPANY_ID: "11111111-2222-4333-8444-555555555555"})
    doc = result_for(catalog_with(), tabs)
    assert doc.payload["Contact"] == {"ContactID": "11111111-2222-4333-8444-555555555555"}
    assert any("not in the cached contacts" in w for w in doc.warnings)


def test_contact_override_pointing_at_an_archived_contact_blocks() -> None:
    old = contact("HVD", ContactStatus="ARCHIVED")
    result = result_for(catalog_with(old), tables(contacts={COMPANY_ID: old["ContactID"]}))
    assert isinstance(result, Blocked)
    assert [(r.code, r.mapping_type, r.source_key) for r in result.reasons] == [
        ("contact", "contact", str(COMPANY_ID))
    ]


def test_archived_contact_with_the_same_name_is_not_matched() -> None:
    doc = result_for(catalog_with(contact("Harbour View Dental Pty Ltd", ContactStatus="ARCHIVED")))
    assert isinstance(doc, MappedDocument) and doc.new_contact is not None


def test_archived_contact_holding_the_company_id_blocks_with_the_fix() -> None:
    old = contact("Harbour View Dental", ContactNumber=str(COMPANY_ID), ContactStatus="ARCHIVED")
    result = result_for(catalog_with(old))
    assert isinstance(result, Blocked)
    assert "archived" in result.reasons[0].message
    assert "Mappings → Contacts" in result.reasons[0].message


def test_two_active_contacts_with_the_same_name_block_as_ambiguous() -> None:
    cat = catalog_with(
        contact("Harbour View Dental Pty Ltd"), contact("HARBOUR VIEW  DENTAL PTY LTD")
    )
    result = result_for(cat)
    assert isinstance(result, Blocked)
    assert "matches 2 Xero contacts" in result.reasons[0].message


def test_unmatched_company_gets_a_new_contact_keyed_by_company_id() -> None:
    doc = result_for(catalog_with(contact("Someone Else")))
    assert isinstance(doc, MappedDocument)
    assert doc.payload["Contact"] == {"ContactNumber": str(COMPANY_ID)}
    assert doc.new_contact == {
        "Name": "Harbour View Dental Pty Ltd",
        "ContactNumber": str(COMPANY_ID),
        "AccountNumber": "C10000",
        "EmailAddress": "accounts@harbourviewdental.com.au",
        "FirstName": "Olivia",
        "LastName": "Smith",
        "Addresses": [
            {
                "AddressType": "POBOX",
                "AddressLine1": "12 George Street",
                "City": "Sydney",
                "Region": "NSW",
                "PostalCode": "2000",
            }
        ],
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "02 9000 1234"}],
    }


def test_new_contact_leaves_off_an_account_number_already_in_use() -> None:
    taken = contact("Other Co", AccountNumber="C10000", ContactStatus="ARCHIVED")
    doc = result_for(catalog_with(taken))
    assert isinstance(doc, MappedDocument) and doc.new_contact is not None
    assert "AccountNumber" not in doc.new_contact


def test_new_contact_leaves_off_an_invalid_billing_email() -> None:
    snap = snapshot()
    assert snap.billing_contact is not None
    broken = snap.billing_contact.model_copy(update={"emailAddress": "accounts at hvd"})
    doc = map_invoice(snapshot(billing_contact=broken), tables(), catalog_with(), options())
    assert isinstance(doc, MappedDocument) and doc.new_contact is not None
    assert "EmailAddress" not in doc.new_contact
    assert any("email" in w for w in doc.warnings)


def test_new_contact_uses_the_main_address_without_a_billing_address() -> None:
    plain = company(
        billingAddress1=None,
        billToCity=None,
        billToState=None,
        billToZipCode=None,
        address1="1 Pitt Street",
        city="Sydney",
    )
    doc = result_for(catalog_with(), company=plain)
    assert doc.new_contact["Addresses"] == [
        {"AddressType": "POBOX", "AddressLine1": "1 Pitt Street", "City": "Sydney"}
    ]


def test_new_contact_without_a_company_name_gets_one() -> None:
    doc = result_for(catalog_with(), company=company(companyName="   "))
    assert doc.new_contact["Name"] == f"Autotask company {COMPANY_ID}"
