"""Which Xero organisation an invoice goes to (issue 3 scope; issue 5 extends it with splits).

Autotask invoices carry no line of business; their billing items do
(``organizationalLevelAssociationID``, autotask-api §8). The user's ``routing`` mappings send an
association id to a tenant id (``org = ''`` entries; source key = association id). Then:

1. the organisations the invoice's routed lines name: one -> that organisation; two or more ->
   the invoice is held (a split is a later feature);
2. none (no line is routed): the ``default_org`` run-time setting, else the only connected
   organisation;
3. otherwise it is held, with what to do.

A routing target that is not a connected organisation holds the invoice too: posting there would
fail, and guessing another organisation would put it in the wrong books.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agent.mapping import InvoiceSnapshot
from agent.store import ALL_ORGS, MappingEntry, TenantInfo

ROUTING = "routing"


@dataclass(frozen=True, slots=True)
class Routed:
    org: str
    rule: str


@dataclass(frozen=True, slots=True)
class Unroutable:
    reason: str  # "routing: ...", worded like mapping's block reasons

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class RoutingTable:
    """Association id -> tenant id, plus the connected organisations and the default."""

    routes: Mapping[int, str]
    connected: Mapping[str, str]  # tenant id -> name
    default_org: str | None

    @classmethod
    def build(
        cls,
        entries: Iterable[MappingEntry],
        connected: Sequence[TenantInfo],
        default_org: str | None,
    ) -> RoutingTable:
        routes: dict[int, str] = {}
        for entry in entries:
            key = entry.source_key.strip()
            if entry.mapping_type == ROUTING and entry.org == ALL_ORGS and key.isdigit():
                routes[int(key)] = entry.target.strip()
        return cls(routes, {t.tenant_id: t.tenant_name for t in connected}, default_org)

    def name(self, tenant_id: str) -> str:
        return self.connected.get(tenant_id) or tenant_id

    def route(self, snapshot: InvoiceSnapshot) -> Routed | Unroutable:
        by_org: dict[str, list[int]] = {}
        for item in snapshot.items:
            association = item.organizationalLevelAssociationID
            if association is not None and association in self.routes:
                by_org.setdefault(self.routes[association], []).append(association)
        if len(by_org) > 1:
            names = " and ".join(f'"{self.name(o)}"' for o in sorted(by_org, key=self.name))
            return Unroutable(
                f"routing: the invoice mixes lines of business routed to {names}; split support is"
                " coming: route them to one organisation in Mappings → Routing, or skip the"
                " invoice"
            )
        if by_org:
            org, associations = next(iter(by_org.items()))
            rule = f"line of business {sorted(set(associations))} routed to {self.name(org)}"
            return self._checked(org, rule)
        if self.default_org:
            default = self.default_org
            return self._checked(default, f"the default organisation {self.name(default)}")
        if len(self.connected) == 1:
            org = next(iter(self.connected))
            return Routed(org, f"the only connected organisation, {self.name(org)}")
        if not self.connected:
            return Unroutable(
                "routing: no Xero organisation is connected; connect one (atx xero connect)"
            )
        return Unroutable(
            "routing: no line of the invoice has a routed line of business and no default "
            "organisation is set; route its lines of business in Mappings → Routing or set the "
            "default organisation in Settings"
        )

    def _checked(self, org: str, rule: str) -> Routed | Unroutable:
        if org in self.connected:
            return Routed(org, rule)
        return Unroutable(
            f"routing: the invoice goes to organisation {org} ({rule}), which is not connected;"
            " connect it, or change the routing in Mappings → Routing or the default"
            " organisation in Settings"
        )
