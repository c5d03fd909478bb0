"""What an accountant would map for the seeded MSP (``sandbox.seed``).

Used by ``atx demo`` (loaded into the agent through the control API once Xero is connected), by
the sync tests and by the benchmark, so the three agree on one set of mappings:

- routing: each line of business (organizational level association) goes to the Australian or the
  British organisation by its region;
- tax: (tax region id, tax category id) -> Xero TaxType, per organisation;
- accounts: revenue accounts for the billing codes whose external number is missing or names an
  expense account.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from sandbox import seed_catalog as cat
from sandbox.world import World

# Index 0: the Australian organisation, index 1: the British one (``World.xero_orgs`` order).
ACCOUNTANT_TAX: Final[tuple[dict[tuple[int, int], str], dict[tuple[int, int], str]]] = (
    {(1, 1): "OUTPUT", (1, 2): "EXEMPTOUTPUT", (1, 3): "EXEMPTOUTPUT"}
    | {(4, c): "EXEMPTEXPORT" for c in (1, 2, 3)}
    | {(2, c): "EXEMPTEXPORT" for c in (1, 2, 3)},
    {(3, 1): "OUTPUT2", (3, 2): "EXEMPTOUTPUT", (3, 3): "ZERORATEDOUTPUT"}
    | {(4, c): "ZERORATEDOUTPUT" for c in (1, 2, 3)},
)
ACCOUNTANT_ACCOUNTS: Final[dict[int, str]] = {
    29682813: "260",
    29682821: "260",
    29682822: "260",
    29682833: "200",
}


class MappingRow(NamedTuple):
    org: str  # "" = every organisation
    kind: str
    key: str
    value: str


def accountant_mappings(
    world: World, *, skip_tax: tuple[int, int] | None = None
) -> list[MappingRow]:
    """The mapping rows for ``world`` (its first two Xero organisations: AU, then UK)."""
    au, uk = (org.tenant_id for org in world.xero_orgs[:2])
    rows = [
        MappingRow("", "routing", str(association), au if level1 == 1 else uk)
        for association, (level1, _level2) in cat.ORG_ASSOCIATIONS.items()
    ]
    for tenant, table in ((au, ACCOUNTANT_TAX[0]), (uk, ACCOUNTANT_TAX[1])):
        rows.extend(
            MappingRow(tenant, "tax", f"{region}:{category}", tax_type)
            for (region, category), tax_type in table.items()
            if (region, category) != skip_tax
        )
    rows.extend(
        MappingRow("", "account", str(code), account)
        for code, account in ACCOUNTANT_ACCOUNTS.items()
    )
    return rows
