"""New Xero contacts, created before the documents that need them (issue 3 §4).

Mapping says when an Autotask company has no contact in the organisation (``new_contact``, keyed
by ContactNumber = the Autotask company id). For a chunk of claimed rows, the contacts are created
once per company in batches of <= 50 (PUT: never updates a contact someone edited in Xero), each
new ContactID is saved as a ``contact`` mapping for the company (so every later invoice matches it,
whatever the catalog cache says), and the documents get ``{"ContactID": ...}``.

A contact Xero says exists already (its number or name is taken: created by an earlier attempt
whose answer was lost, or added in Xero since the catalogs were read) is looked up and adopted.
After an unknown outcome each contact is looked up by its ContactNumber before anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from agent.store import Store
from agent.store.canonical import content_hash
from agent.sync.jobs import Job, Outcomes
from agent.sync.report import CycleReport
from agent.xero import (
    MAX_BATCH,
    XeroAuthError,
    XeroClient,
    XeroError,
    XeroOrgPaused,
    XeroOutcomeUnknown,
)

log = logging.getLogger("atx.sync")
CONTACT = "contact"
_TAKEN = ("already assigned", "already exists")


class ContactMaker:
    def __init__(
        self,
        store: Store,
        xero: XeroClient,
        tenant_id: str,
        org_name: str,
        outcomes: Outcomes,
        report: CycleReport,
        halt: Callable[[XeroError], NoReturn],
    ) -> None:
        self.store = store
        self.xero = xero
        self.tenant_id = tenant_id
        self.org_name = org_name
        self.outcomes = outcomes
        self.report = report
        # Gives back every row still claimed and raises Halt (a pause, a connection to redo).
        self._halt = halt

    def run(self, jobs: Sequence[Job]) -> None:
        waiting: dict[int, list[Job]] = {}
        for job in jobs:
            company = job.env.company_id
            if not job.needs_contact or company is None:
                continue
            known = self.store.mappings.get(self.tenant_id, CONTACT, str(company))
            if known is not None:
                job.document["Contact"] = {"ContactID": known.target}
            else:
                waiting.setdefault(company, []).append(job)
        companies = sorted(waiting)
        for start in range(0, len(companies), MAX_BATCH):
            self._create(companies[start : start + MAX_BATCH], waiting)

    def _create(self, companies: list[int], waiting: dict[int, list[Job]]) -> None:
        contacts = [waiting[c][0].env.new_contact or {} for c in companies]
        attempt = max(j.row.attempts for c in companies for j in waiting[c])
        # The attempt is part of the key: Xero replays a cached error for a reused key.
        keys = [f"{CONTACT}:{c}:{content_hash(body)}:{attempt}" for c, body in zip(
            companies, contacts, strict=True)]  # fmt: skip
        jobs = [j for c in companies for j in waiting[c]]
        try:
            results = self.xero.post_documents(self.tenant_id, CONTACT, contacts, keys)
        except (XeroOrgPaused, XeroAuthError) as exc:
            self._halt(exc)
        except XeroOutcomeUnknown as exc:
            self.report.add("xero_writes")
            for company, body in zip(companies, contacts, strict=True):
                self._adopt_or_fail(company, body, waiting[company], str(exc))
            return
        except XeroError as exc:
            for job in jobs:
                self.outcomes.failed(job, f"creating its Xero contact: {exc}", needs_lookup=False)
            return
        self.report.add("xero_writes")
        for company, body, result in zip(companies, contacts, results, strict=True):
            if result.ok and result.xero_id:
                self._use(company, result.xero_id, body, waiting[company], created=True)
            elif any(t in m.lower() for m in result.errors for t in _TAKEN):
                self._adopt_or_fail(company, body, waiting[company], "; ".join(result.errors))
            elif result.request_rejected:
                for job in waiting[company]:
                    self.outcomes.failed(
                        job, "Xero refused the contacts request: " + "; ".join(result.errors),
                        needs_lookup=False,
                    )  # fmt: skip
            else:
                reason = (
                    f'contact: Xero refused the new contact "{body.get("Name")}" for Autotask '
                    f"company {company}: {'; '.join(result.errors)}; fix the company in Autotask"
                    " or choose its Xero contact in Mappings → Contacts"
                )
                for job in waiting[company]:
                    self.outcomes.blocked(job, [reason])

    def _adopt_or_fail(
        self, company: int, body: dict[str, Any], jobs: list[Job], error: str
    ) -> None:
        try:
            found = self.xero.find_contact(
                self.tenant_id, contact_number=str(company), name=str(body.get("Name") or "")
            )
        except (XeroOrgPaused, XeroAuthError) as exc:
            self._halt(exc)
        except XeroError as exc:
            for job in jobs:
                self.outcomes.failed(job, f"looking up its Xero contact: {exc}", needs_lookup=False)
            return
        if found and found.get("ContactID"):
            self._use(company, str(found["ContactID"]), body, jobs, created=False)
            return
        for job in jobs:
            self.outcomes.failed(
                job, f"creating its Xero contact: {error}; not found in Xero", needs_lookup=False
            )

    def _use(
        self, company: int, contact_id: str, body: dict[str, Any], jobs: list[Job], *, created: bool
    ) -> None:
        how = "created by atx" if created else "found in Xero by atx"
        self.store.mappings.set(
            self.tenant_id,
            CONTACT,
            str(company),
            contact_id,
            {"name": body.get("Name"), "source": how},
        )
        if created:
            self.report.add("contacts_created")
        log.info(
            "contact %s \"%s\" for Autotask company %s in %s (%s)",
            contact_id, body.get("Name"), company, self.org_name, how,
        )  # fmt: skip
        for job in jobs:
            job.document["Contact"] = {"ContactID": contact_id}
