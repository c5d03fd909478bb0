"""Which Xero organisation an invoice goes to (issue 3 scope; issue 5 §4 adds rules).

Rules, tried in this order; the first that names an organisation decides (``Routed.rule`` says
which, for the dry run and the queue detail):

1. line of business: Autotask invoices carry none, their billing items do
   (``organizationalLevelAssociationID``, autotask-api §8). ``routing`` mappings send an
   association id to a tenant id. The organisations the invoice's routed lines name: one -> that
   organisation; two or more -> a *mixed* invoice: held (setting ``mixed_invoice`` = ``block``,
   the default), or split (``split``): one part per organisation (``Split``), each with the lines
   routed there; the lines without a routed line of business go where rules 2-5 send the
   invoice (held when none does), joining that organisation's part or making one of their own.
   Every part is a complete document in its organisation (``agent.sync.split``);
2. customer: ``routing_company`` mappings, Autotask company id -> tenant id;
3. a customer's user-defined field: the ``routing_udf_name`` setting names the company UDF,
   ``routing_udf`` mappings send its value (compared without case and outer spaces) to a tenant;
4. currency: ``routing_currency`` mappings, the customer's ISO currency code -> tenant id (the
   code is the global ``currency`` mapping of the Autotask currency, else its name, as mapping
   reads it);
5. the ``default_org`` run-time setting, else the only connected organisation;
6. otherwise the invoice is held, with what to map.

Routing mappings are global (``org = ''``); entries of one organisation mean nothing here. A
routing target that is not a connected organisation holds the invoice too: posting there would
fail, and guessing another organisation would put it in the wrong books.

Everything here is pure: ``RoutingTable`` is built from mapping entries and settings, and
``route`` reads only the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from agent.mapping import InvoiceSnapshot
from agent.store import ALL_ORGS, MappingEntry, TenantInfo
from agent.store.canonical import content_hash
from agent.sync.options import MIXED_CHOICES, SyncOptions

ROUTING = "routing"
ROUTING_COMPANY = "routing_company"
ROUTING_UDF = "routing_udf"
ROUTING_CURRENCY = "routing_currency"
ROUTING_KINDS: tuple[str, ...] = (ROUTING, ROUTING_COMPANY, ROUTING_UDF, ROUTING_CURRENCY)
# What ``build`` reads: the routing kinds, and the global currency mappings (rule 4's code).
ROUTING_INPUT_KINDS: frozenset[str] = frozenset({*ROUTING_KINDS, "currency"})
# ``mixed_invoice``: what happens to an invoice whose lines of business go to different
# organisations: held ("block"), or split into one document per organisation ("split").
MIXED_BLOCK, MIXED_SPLIT = MIXED_CHOICES
WHERE = "Mappings → Routing"


@dataclass(frozen=True, slots=True)
class Routed:
    org: str
    rule: str


@dataclass(frozen=True, slots=True)
class Part:
    """One organisation's share of a split invoice (``mixed_invoice`` = ``split``)."""

    org: str
    rule: str  # why these lines go there (the routing rules that matched)
    items: tuple[int, ...]  # billing item ids, ascending
    lines_of_business: tuple[int, ...]  # the routed association ids among them
    index: int  # 1-based, in the order of the parts' first billing item
    count: int

    @property
    def title(self) -> str:
        return f"part {self.index} of {self.count}"

    def lines(self) -> str:
        """Which lines it carries, for the history and the dry run."""
        items = ", ".join(map(str, self.items))
        noun = "billing item" if len(self.items) == 1 else "billing items"
        text = f"{noun} {items}"
        if self.lines_of_business:
            lobs = ", ".join(map(str, self.lines_of_business))
            text += f" (line(s) of business {lobs})"
        return text


@dataclass(frozen=True, slots=True)
class Split:
    """A mixed invoice as one document per organisation; every billing item is in one part."""

    parts: tuple[Part, ...]

    @property
    def orgs(self) -> tuple[str, ...]:
        return tuple(p.org for p in self.parts)

    def part(self, org: str) -> Part | None:
        return next((p for p in self.parts if p.org == org), None)


@dataclass(frozen=True, slots=True)
class Unroutable:
    reason: str  # "routing: ...", worded like mapping's block reasons

    def __str__(self) -> str:
        return self.reason


Decision = Routed | Split | Unroutable


def udf_key(value: str) -> str:
    """How a UDF value is compared: without case and outer spaces."""
    return " ".join(value.split()).casefold()


def iso_code(text: str | None) -> str | None:
    code = (text or "").strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else None


@dataclass(frozen=True)
class RoutingTable:
    """The routing rules, plus the connected organisations and the default."""

    routes: Mapping[int, str]  # line-of-business association id -> tenant id
    connected: Mapping[str, str]  # tenant id -> name
    default_org: str | None
    companies: Mapping[int, str] = field(default_factory=dict)  # Autotask company id -> tenant
    udf_name: str | None = None  # the company UDF rule 3 reads
    udf_values: Mapping[str, str] = field(default_factory=dict)  # udf_key(value) -> tenant
    currencies: Mapping[str, str] = field(default_factory=dict)  # ISO code -> tenant
    currency_codes: Mapping[int, str] = field(default_factory=dict)  # AT currency id -> ISO
    mixed: str = MIXED_BLOCK

    @classmethod
    def build(
        cls,
        entries: Iterable[MappingEntry],
        connected: Sequence[TenantInfo],
        default_org: str | None,
        *,
        udf_name: str | None = None,
        mixed: str = MIXED_BLOCK,
    ) -> RoutingTable:
        routes: dict[int, str] = {}
        companies: dict[int, str] = {}
        udf_values: dict[str, str] = {}
        currencies: dict[str, str] = {}
        codes: dict[int, str] = {}
        for entry in entries:
            if entry.org != ALL_ORGS:
                continue
            key, target = entry.source_key.strip(), entry.target.strip()
            if not target:
                continue
            kind = entry.mapping_type
            if kind == ROUTING and key.isdigit():
                routes[int(key)] = target
            elif kind == ROUTING_COMPANY and key.isdigit():
                companies[int(key)] = target
            elif kind == ROUTING_UDF and key:
                udf_values[udf_key(key)] = target
            elif kind == ROUTING_CURRENCY and iso_code(key):
                currencies[str(iso_code(key))] = target
            elif kind == "currency" and key.isdigit() and iso_code(target):
                codes[int(key)] = str(iso_code(target))
        return cls(
            routes,
            {t.tenant_id: t.tenant_name for t in connected},
            default_org,
            companies=companies,
            udf_name=(udf_name or "").strip() or None,
            udf_values=udf_values,
            currencies=currencies,
            currency_codes=codes,
            mixed=mixed,
        )

    def fingerprint(self) -> str:
        """Changes whenever a routing decision may change (blocked rows are routed again)."""
        return content_hash(
            [
                sorted(self.routes.items()),
                sorted(self.connected),
                self.default_org,
                sorted(self.companies.items()),
                self.udf_name,
                sorted(self.udf_values.items()),
                sorted(self.currencies.items()),
                sorted(self.currency_codes.items()),
                self.mixed,
            ]
        )

    def name(self, tenant_id: str) -> str:
        return self.connected.get(tenant_id) or tenant_id

    # -- what the snapshot says ---------------------------------------------------------------

    @staticmethod
    def company_id(snapshot: InvoiceSnapshot) -> int | None:
        if snapshot.company is not None:
            return snapshot.company.id
        return snapshot.invoice.companyID

    def udf_value(self, snapshot: InvoiceSnapshot) -> str | None:
        if self.udf_name is None or snapshot.company is None:
            return None
        wanted = self.udf_name.casefold()
        for udf in snapshot.company.userDefinedFields:
            if udf.name.strip().casefold() == wanted:
                return (udf.value or "").strip() or None
        return None

    def currency_code(self, snapshot: InvoiceSnapshot) -> str | None:
        record = snapshot.currency
        if record is None:
            return None
        return self.currency_codes.get(record.id) or iso_code(record.name)

    def customer(self, snapshot: InvoiceSnapshot) -> str:
        company = snapshot.company
        name = " ".join((company.companyName or "").split()) if company is not None else ""
        number = self.company_id(snapshot)
        if name and number is not None:
            return f'customer "{name}" (Autotask company {number})'
        return f"Autotask company {number}" if number is not None else "the customer"

    # -- the decision -------------------------------------------------------------------------

    def route(self, snapshot: InvoiceSnapshot) -> Routed | Split | Unroutable:
        by_org = self._lines_of_business(snapshot)
        if len(by_org) > 1:
            if self.mixed == MIXED_SPLIT:
                return self._split(snapshot, by_org)
            return Unroutable(
                f"routing: the invoice mixes lines of business routed to {self._names(by_org)}"
                f" ({self._shares(by_org)}); mixed invoices are held (setting mixed_invoice ="
                f" {self.mixed}): route them to one organisation in {WHERE}, or skip the invoice"
            )
        if by_org:
            org, associations = next(iter(by_org.items()))
            rule = f"line of business {sorted(set(associations))} routed to {self.name(org)}"
            return self._checked(org, rule)
        found = self._by_invoice(snapshot)
        if found is not None:
            return found
        if not self.connected:
            return Unroutable(
                "routing: no Xero organisation is connected; connect one (atx xero connect)"
            )
        return Unroutable(
            "routing: no routing rule matches the invoice and no default organisation is set;"
            f" in {WHERE} route one of: {', '.join(self._candidates(snapshot))};"
            " or set the default organisation in Settings"
        )

    def _lines_of_business(self, snapshot: InvoiceSnapshot) -> dict[str, list[int]]:
        """Organisation -> the routed line-of-business ids of the invoice's lines."""
        by_org: dict[str, list[int]] = {}
        for item in snapshot.items:
            association = item.organizationalLevelAssociationID
            if association is not None and association in self.routes:
                by_org.setdefault(self.routes[association], []).append(association)
        return by_org

    def _names(self, by_org: Mapping[str, object]) -> str:
        return " and ".join(f'"{self.name(o)}"' for o in sorted(by_org, key=self.name))

    def _shares(self, by_org: Mapping[str, list[int]]) -> str:
        return "; ".join(
            f'{sorted(set(by_org[o]))} to "{self.name(o)}"' for o in sorted(by_org, key=self.name)
        )

    def _by_invoice(self, snapshot: InvoiceSnapshot) -> Routed | Unroutable | None:
        """Rules 2-5 (customer, UDF, currency, default / only organisation); None: none
        applies."""
        company = self.company_id(snapshot)
        if company is not None and company in self.companies:
            org = self.companies[company]
            return self._checked(org, f"{self.customer(snapshot)} routed to {self.name(org)}")
        value = self.udf_value(snapshot)
        if value is not None and udf_key(value) in self.udf_values:
            org = self.udf_values[udf_key(value)]
            rule = f'the customer\'s {self.udf_name} "{value}" routed to {self.name(org)}'
            return self._checked(org, rule)
        code = self.currency_code(snapshot)
        if code is not None and code in self.currencies:
            org = self.currencies[code]
            return self._checked(org, f"the customer's currency {code} routed to {self.name(org)}")
        if self.default_org:
            default = self.default_org
            return self._checked(default, f"the default organisation {self.name(default)}")
        if len(self.connected) == 1:
            org = next(iter(self.connected))
            return Routed(org, f"the only connected organisation, {self.name(org)}")
        return None

    def _split(self, snapshot: InvoiceSnapshot, by_org: dict[str, list[int]]) -> Split | Unroutable:
        """One part per organisation (``mixed_invoice`` = ``split``), or why it is held."""
        mixing = f"the invoice mixes lines of business routed to {self._names(by_org)}"
        for org in sorted(by_org, key=self.name):
            if org not in self.connected:
                unconnected = sorted(set(by_org[org]))
                return Unroutable(
                    f"routing: {mixing} and is split (mixed_invoice = split), but lines of"
                    f" business {unconnected} go to organisation {org}, which is not connected;"
                    f" connect it, or change the routing in {WHERE}"
                )
        items = sorted(snapshot.items, key=lambda i: i.id)
        loose = [
            i.id
            for i in items
            if i.organizationalLevelAssociationID is None
            or i.organizationalLevelAssociationID not in self.routes
        ]
        loose_org: str | None = None
        loose_rule = ""
        if loose:
            found = self._by_invoice(snapshot)
            shown = ", ".join(map(str, loose))
            if found is None:
                return Unroutable(
                    f"routing: {mixing} and is split (mixed_invoice = split), but billing items"
                    f" {shown} have no routed line of business and no other rule picks an"
                    f" organisation for them; in {WHERE} route one of:"
                    f" {', '.join(self._candidates(snapshot, loose))}; or set the default"
                    " organisation in Settings"
                )
            if isinstance(found, Unroutable):
                return Unroutable(f"{found.reason} (billing items {shown} of a split invoice)")
            loose_org, loose_rule = found.org, found.rule
        groups: dict[str, list[int]] = {}
        for item in items:
            association = item.organizationalLevelAssociationID
            if association is not None and association in self.routes:
                org = self.routes[association]
            else:
                assert loose_org is not None
                org = loose_org
            groups.setdefault(org, []).append(item.id)
        parts: list[Part] = []
        for index, (org, ids) in enumerate(groups.items(), start=1):
            lobs: tuple[int, ...] = tuple(sorted(set(by_org.get(org, []))))
            reasons = []
            if lobs:
                reasons.append(f"line(s) of business {list(lobs)} routed to {self.name(org)}")
            if org == loose_org:
                mine = [i for i in ids if i in loose]
                reasons.append(
                    f"billing item(s) {', '.join(map(str, mine))} without a routed line of"
                    f" business: {loose_rule}"
                )
            rule = (
                f"part {index} of {len(groups)} of a mixed invoice split (mixed_invoice ="
                f" split): {'; '.join(reasons)}"
            )
            parts.append(Part(org, rule, tuple(ids), lobs, index, len(groups)))
        return Split(tuple(parts))

    def _candidates(
        self, snapshot: InvoiceSnapshot, items: Sequence[int] | None = None
    ) -> list[str]:
        """What the user could map to route this invoice (or these of its billing items), most
        specific first."""
        found: list[str] = []
        associations = sorted(
            {
                i.organizationalLevelAssociationID
                for i in snapshot.items
                if i.organizationalLevelAssociationID is not None
                and (items is None or i.id in items)
            }
        )
        if associations:
            found.append(f"its line(s) of business {', '.join(map(str, associations))}")
        if self.company_id(snapshot) is not None:
            found.append(f"the {self.customer(snapshot)}")
        value = self.udf_value(snapshot)
        if value is not None:
            found.append(f'the customer\'s {self.udf_name} "{value}"')
        code = self.currency_code(snapshot)
        if code is not None:
            found.append(f"the currency {code}")
        return found or ["the customer (the invoice names none)"]

    def _checked(self, org: str, rule: str) -> Routed | Unroutable:
        if org in self.connected:
            return Routed(org, rule)
        return Unroutable(
            f"routing: the invoice goes to organisation {org} ({rule}), which is not connected;"
            f" connect it, or change the routing in {WHERE} or the default"
            " organisation in Settings"
        )


def routing_entries(entries: Iterable[MappingEntry]) -> list[MappingEntry]:
    """The mapping entries ``RoutingTable.build`` reads, out of all of them."""
    return [e for e in entries if e.mapping_type in ROUTING_INPUT_KINDS and e.org == ALL_ORGS]


def routing_table(
    entries: Iterable[MappingEntry], connected: Sequence[TenantInfo], options: SyncOptions
) -> RoutingTable:
    """The table a cycle (or a dry run, or a re-mapping of blocked rows) routes with."""
    return RoutingTable.build(
        routing_entries(entries),
        connected,
        options.default_org,
        udf_name=options.routing_udf_name,
        mixed=options.mixed_invoice,
    )
