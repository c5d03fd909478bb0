"""Mappings: Autotask values (keys) to Xero values, one tab per kind, per organisation or for all.

Keys come from ``/autotask/{name}``, values from the organisation's cached Xero catalogs; saving a
mapping re-queues the blocked documents it unblocks, and the screen says how many. The invoice
mappings come first, then the routing rules, then those of purchase orders and expenses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from tui.client import AgentEvent
from tui.screens.base import AgentScreen
from tui.screens.picker import REMOVE, PickerScreen

ALL = ""
Entry = dict[str, Any]
# BillingCodes.useType of an expense category. A tenant's picklist names its values; 4 is the
# sandbox's (sandbox/seed_catalog.py). When no billing code has it, every code is offered.
EXPENSE_CATEGORY_USE_TYPE = 4


@dataclass(frozen=True)
class MappingKind:
    kind: str
    title: str
    keys: tuple[str, ...]  # /autotask lists; two for tax (region x category)
    catalog: str | None  # None: the organisations themselves (routing)
    value_field: str
    label_field: str
    per_org: bool = True
    key_catalog: str | None = None  # keys from this Xero catalog (Code, Description) instead
    # Which entries of the key list are keys of this kind (and how they read), if not all.
    select_keys: Callable[[list[Entry]], list[Entry]] | None = None

    @property
    def value_is_id(self) -> bool:
        """The Xero value is a GUID (a contact, a branding theme): shown by its name."""
        return self.value_field.endswith("ID")


def routing_kind(kind: str, title: str, keys: tuple[str, ...] = (), **extra: Any) -> MappingKind:
    """A routing rule: Autotask value -> organisation, for every organisation ('')."""
    return MappingKind(kind, title, keys, None, "tenant_id", "name", per_org=False, **extra)


def products_only(entries: list[Entry]) -> list[Entry]:
    """``purchase_account`` keys: the products (``product:<id>``), not services or bundles."""
    return [e for e in entries if str(e.get("id")).startswith("product:")]


def expense_categories(entries: list[Entry]) -> list[Entry]:
    """``expense_account`` keys: the billing codes that are expense categories (every code when
    the list tells none apart)."""
    found = [e for e in entries if e.get("use_type") == EXPENSE_CATEGORY_USE_TYPE]
    return found or entries


def people(entries: list[Entry]) -> list[Entry]:
    """``expense_contact`` keys: resources, those no longer active marked so."""
    return [
        e
        if e.get("active", True)
        else {**e, "label": f"{e.get('label') or e.get('id')} (inactive)"}
        for e in entries
    ]


KINDS: tuple[MappingKind, ...] = (
    MappingKind("account", "Accounts", ("billing_codes",), "accounts", "Code", "Name"),
    MappingKind("tax", "Tax", ("tax_regions", "tax_categories"), "tax_rates", "TaxType", "Name"),
    MappingKind("currency", "Currencies", (), "currencies", "Code", "Description"),
    MappingKind(
        "branding_theme",
        "Themes",
        ("invoice_templates",),
        "branding_themes",
        "BrandingThemeID",
        "Name",
    ),
    MappingKind("item", "Items", ("products",), "items", "Code", "Name"),
    MappingKind("contact", "Contacts", ("companies",), "contacts", "ContactID", "Name"),
    # Routing rules, in the order the sync tries them (then the default organisation).
    routing_kind("routing", "Routing", ("lines_of_business",)),
    routing_kind("routing_company", "By customer", ("companies",)),
    routing_kind("routing_udf", "By UDF", ("udf_values",)),
    routing_kind("routing_currency", "By currency", key_catalog="currencies"),
    # Purchase orders and expenses (Xero bills and purchase orders).
    MappingKind(
        "purchase_account",
        "PO accounts",
        ("products",),
        "accounts",
        "Code",
        "Name",
        select_keys=products_only,
    ),
    MappingKind("purchase_tax", "PO tax", ("tax_regions",), "tax_rates", "TaxType", "Name"),
    MappingKind(
        "expense_account",
        "Expense accounts",
        ("billing_codes",),
        "accounts",
        "Code",
        "Name",
        select_keys=expense_categories,
    ),
    MappingKind(
        "expense_contact",
        "Expense people",
        ("resources",),
        "contacts",
        "ContactID",
        "Name",
        select_keys=people,
    ),
)
BY_KIND = {k.kind: k for k in KINDS}


class MappingTable(DataTable[Any]):
    def __init__(self, spec: MappingKind) -> None:
        super().__init__(cursor_type="row", id=f"map-{spec.kind}")
        self.spec = spec
        self.rows_by_key: dict[str, tuple[str, str | None, str | None]] = {}

    def on_mount(self) -> None:
        self.add_column("Autotask", key="key", width=30)
        self.add_column("Xero", key="value", width=30)


class MappingsScreen(AgentScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "edit", "Edit", show=False),
        Binding("delete", "clear", "Remove"),
        Binding("f", "refresh_catalogs", "Refresh from Xero"),
        Binding("o", "focus_org", "Org"),
        Binding("r", "reload", "Reload"),
        # Fourteen tabs do not fit 80 columns: the next / previous one from anywhere.
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False),
        Binding("left_square_bracket", "tab(-1)", "Previous tab", show=False),
    ]

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        ids = [f"tab-{k.kind}" for k in KINDS]
        current = ids.index(tabs.active) if tabs.active in ids else 0
        tabs.active = ids[(current + step) % len(ids)]

    def __init__(self) -> None:
        super().__init__()
        self.catalogs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.keys: dict[str, list[dict[str, Any]]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="map-top"):
            yield Select([], prompt="All organisations", compact=True, id="map-org")
            yield Static("", id="map-info")
        with TabbedContent(id="map-tabs"):
            for spec in KINDS:
                with TabPane(spec.title, id=f"tab-{spec.kind}"):
                    yield MappingTable(spec)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Mappings"
        self._fill_orgs()
        super().on_mount()

    # -- context ----------------------------------------------------------------------------

    def connections(self) -> list[dict[str, Any]]:
        conns = self.atx.status.get("connections") or []
        return [c for c in conns if c.get("selected", True)] or list(conns)

    def _fill_orgs(self) -> None:
        select = self.query_one("#map-org", Select)
        options = [
            (str(c.get("name") or c["tenant_id"]), str(c["tenant_id"])) for c in self.connections()
        ]
        if options and not select._options[1:]:
            with select.prevent(Select.Changed):
                select.set_options(options)

    def org(self) -> str:
        value = self.query_one("#map-org", Select).value
        return ALL if value is Select.NULL else str(value)

    def catalog_org(self) -> str | None:
        """Whose catalog offers the values: the chosen org, or the first one for 'all'."""
        if self.org():
            return self.org()
        conns = self.connections()
        return str(conns[0]["tenant_id"]) if conns else None

    def table(self) -> MappingTable:
        active = self.query_one(TabbedContent).active or "tab-account"
        return self.query_one(f"#map-{active.removeprefix('tab-')}", MappingTable)

    @on(TabbedContent.TabActivated)
    @on(Select.Changed, "#map-org")
    def _context_changed(self) -> None:
        self.reload()

    def action_focus_org(self) -> None:
        self.query_one("#map-org", Select).focus()

    def action_reload(self) -> None:
        self.catalogs.clear()
        self.keys.clear()
        self.reload()

    # -- loading ----------------------------------------------------------------------------

    async def _keys(self, name: str) -> list[dict[str, Any]]:
        if name not in self.keys:
            answer = await self.guarded(self.client.autotask_list(name))
            self.keys[name] = list((answer or {}).get("items") or [])
        return self.keys[name]

    async def _catalog(self, name: str, org: str | None = None) -> list[dict[str, Any]]:
        org = org or self.catalog_org()
        if org is None:
            return []
        if (org, name) not in self.catalogs:
            answer = await self.guarded(self.client.catalog(org, name))
            self.catalogs[(org, name)] = list((answer or {}).get("items") or [])
        return self.catalogs[(org, name)]

    async def _udf_name(self) -> str | None:
        """The company UDF the ``routing_udf`` mappings read (setting ``routing_udf_name``)."""
        answer = await self.guarded(self.client.settings())
        setting = ((answer or {}).get("values") or {}).get("routing_udf_name") or {}
        return str(setting.get("value") or "").strip() or None

    async def choices(self, spec: MappingKind) -> list[tuple[str, str]]:
        if spec.catalog is None:
            return [(str(c["tenant_id"]), str(c.get("name") or "")) for c in self.connections()]
        return [
            (str(entry.get(spec.value_field)), str(entry.get(spec.label_field) or ""))
            for entry in await self._catalog(spec.catalog)
            if entry.get(spec.value_field) is not None
        ]

    async def key_rows(self, spec: MappingKind) -> list[tuple[str, str]]:
        if spec.kind == "tax":
            regions, categories = (
                await self._keys("tax_regions"),
                await self._keys("tax_categories"),
            )
            return [
                (f"{r['id']}:{c['id']}", f"{r.get('label', r['id'])} / {c.get('label', c['id'])}")
                for r in regions
                for c in categories
            ]
        if spec.key_catalog is not None:
            # Every connected organisation's entries (e.g. the currencies any of them takes).
            codes: dict[str, str] = {}
            for conn in self.connections():
                for e in await self._catalog(spec.key_catalog, str(conn["tenant_id"])):
                    if e.get("Code"):
                        code = str(e["Code"])
                        codes.setdefault(code, f"{code}  {e.get('Description') or ''}".strip())
            return sorted(codes.items())
        if not spec.keys:
            return []
        name = spec.keys[0]
        if name == "udf_values":
            udf = await self._udf_name()
            if udf is None:
                return []
            if f"{name}?{udf}" not in self.keys:
                answer = await self.guarded(self.client.autotask_list(name, udf))
                self.keys[f"{name}?{udf}"] = list((answer or {}).get("items") or [])
            found = self.keys[f"{name}?{udf}"]
        else:
            found = await self._keys(name)
        if spec.select_keys is not None:
            found = spec.select_keys(found)
        return [(str(e.get("id")), str(e.get("label") or e.get("id"))) for e in found]

    async def fetch(self) -> None:
        self._fill_orgs()
        table = self.table()
        spec = table.spec
        org = self.org() if spec.per_org else ALL
        keys = await self.key_rows(spec)
        answer = await self.guarded(self.client.mappings(kind=spec.kind))
        if answer is None:
            return
        labels = dict(await self.choices(spec))
        own: dict[str, str] = {}
        shared: dict[str, str] = {}
        for row in answer.get("items") or []:
            if row.get("kind", spec.kind) != spec.kind or row.get("value") is None:
                continue
            if (row.get("org") or ALL) == org:
                own[str(row["key"])] = str(row["value"])
            elif (row.get("org") or ALL) == ALL:
                shared[str(row["key"])] = str(row["value"])
        known = {key for key, _ in keys}
        keys += [(key, key) for key in sorted({*own, *shared} - known)]
        with self.app.batch_update():
            cursor = table.cursor_row
            table.clear()
            table.rows_by_key.clear()
            for key, label in keys:
                value = own.get(key)
                inherited = shared.get(key) if value is None and org != ALL else None
                table.rows_by_key[key] = (label, value, inherited)
                cell = self._value_cell(value, inherited, labels, by_name=spec.value_is_id)
                table.add_row(label, cell, key=key)
            if table.row_count:
                table.move_cursor(row=min(cursor, table.row_count - 1))
        mapped = sum(1 for _, v, _ in table.rows_by_key.values() if v)
        where = "all organisations" if org == ALL else "this organisation"
        info = f"{spec.title}: {mapped} of {len(keys)} mapped for {where}"
        if spec.kind == "routing_udf" and not keys:
            # The values listed are those of the company UDF this setting names.
            info = f"{spec.title}: first set routing_udf_name (Settings)"
        self.query_one("#map-info", Static).update(info)

    @staticmethod
    def _value_cell(
        value: str | None, inherited: str | None, labels: dict[str, str], *, by_name: bool = False
    ) -> Text:
        """The Xero value as ``Code  Name``; by its name alone when it is a GUID (``by_name``),
        which would fill the column and tell the user nothing."""
        if value:
            label = labels.get(value)
            if label and by_name:
                return Text(label)
            return Text(f"{value}  {label}" if label and label != value else value)
        if inherited:
            shown = labels.get(inherited) if by_name else None
            return Text(f"{shown or inherited} (all orgs)", style="dim")
        return Text("—", style="dim")

    # -- editing ----------------------------------------------------------------------------

    def action_edit(self) -> None:
        table = self.table()
        if not table.row_count:
            return
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self._pick(table.spec, key)

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_edit()

    @work(group="mappings-edit", exit_on_error=False)
    async def _pick(self, spec: MappingKind, key: str) -> None:
        label, value, _ = self.table().rows_by_key.get(key, (key, None, None))
        choices = await self.choices(spec)
        if not choices:
            self.notify(
                "Refresh the catalogs from Xero (f) or connect an organisation first.",
                title=f"No {spec.title.lower()} to choose from",
                severity="warning",
            )
            return
        picked = await self.app.push_screen_wait(
            PickerScreen(f"{spec.title}: {label}", choices, current=value)
        )
        if picked is None:
            return
        self.save(spec, key, None if picked == REMOVE else picked)

    def action_clear(self) -> None:
        table = self.table()
        if table.row_count:
            key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            self.save(table.spec, key, None)

    @work(group="mappings-edit", exit_on_error=False)
    async def save(self, spec: MappingKind, key: str, value: str | None) -> None:
        org = self.org() if spec.per_org else ALL
        label = self.table().rows_by_key.get(key, (None, None, None))[0]
        answer = await self.guarded(self.client.put_mapping(spec.kind, org, key, value, label))
        if answer is None:
            return
        unblocked = int(answer.get("unblocked") or 0)
        self.notify(
            answer.get("message")
            or f"Saved. {unblocked} blocked item{'s' if unblocked != 1 else ''} re-queued"
        )
        self.reload()

    @work(group="mappings-edit", exit_on_error=False)
    async def action_refresh_catalogs(self) -> None:
        org = self.catalog_org()
        if org is None:
            self.notify("Connect a Xero organisation first (s: setup).", severity="warning")
            return
        self.notify("Reading the catalogs from Xero…")
        answer = await self.guarded(self.client.refresh_catalogs(org))
        if answer is None:
            return
        self.catalogs = {k: v for k, v in self.catalogs.items() if k[0] != org}
        counts = answer.get("counts") or {}
        self.notify(answer.get("message") or ", ".join(f"{n} {name}" for name, n in counts.items()))
        self.reload()

    def agent_event(self, event: AgentEvent) -> None:
        if event.event == "status":
            self._fill_orgs()
