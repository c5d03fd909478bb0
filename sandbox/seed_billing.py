"""Autotask invoices of the seeded MSP, with billing items, the charges behind them and expenses.

Every amount is computed in ``Decimal`` and stored as a float rounded to the cent, line by line as
Autotask does: ``extendedPrice = round(quantity x rate, 2)``, ``taxDollars = round(extendedPrice x
tax rate, 2)``, ``totalAmount = extendedPrice + taxDollars``; an invoice's ``invoiceTotal`` and
``totalTaxValue`` are the sums of its items, so they agree to the cent.

Special cases are placed by quota rather than by chance, so the smallest world (10 invoices) still
has one of each: a credit (negative) invoice, a mixed-sign invoice, a $0 invoice, an invoice whose
lines belong to both regions (two Xero orgs), a voided one, an already-sent one, a line with
non-ASCII text and a line longer than 4,000 characters.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from sandbox import seed_catalog as cat
from sandbox.seed_autotask import Customer, Record, at, below, money, random_at

WINDOW_DAYS = 30  # invoice dates fall in [today - 29 days, today]
FOUR_DP = Decimal("0.0001")

# Weighted draws made per line: cumulative weights, so random.choices needs no summing each time.
_LINE_COUNTS = range(1, 9)
_LINE_COUNT_CUM = tuple(accumulate((14, 20, 20, 16, 12, 8, 6, 4)))
_LINE_KINDS = ("labor", "product", "recurring", "expense", "milestone")
_LINE_KIND_CUM = tuple(accumulate((35, 25, 27, 8, 5)))
_CHARGES = ("ticket", "project", "contract")
_CHARGE_CUM = tuple(accumulate((55, 30, 15)))

_TICKET_TITLES = (
    "Printer offline in reception",
    "Outlook keeps prompting for password",
    "New starter onboarding",
    "VPN drops every 30 minutes",
    "Replace failed disk in NAS",
    "MFA reset for user",
    "Wi-Fi dead spot in boardroom",
    "Monthly server patching",
    "Firewall rule change request",
    "Laptop build and deployment",
    "Shared mailbox permissions",
    "Teams calls dropping audio",
    "Backup job failed overnight",
    "Phishing email investigation",
)
_UNICODE_TEXTS = (
    "Café ☕ support – Zürich office visit",  # noqa: RUF001 - non-ASCII on purpose
    "Überprüfung der Firewall – naïve rules → fixed ✓",  # noqa: RUF001 - non-ASCII on purpose
    "Réinstallation du poste « accueil » – 2ᵉ étage",  # noqa: RUF001 - non-ASCII on purpose
    "Ōtautahi site: Wi-Fi survey — 5 GHz ≥ −67 dBm ✔",  # noqa: RUF001 - non-ASCII on purpose
)
_PROJECTS = (
    "Server migration",
    "Microsoft 365 tenant migration",
    "Office relocation",
    "Network refresh",
    "Intune rollout",
    "Disaster recovery test",
)
# Autotask time-entry notes can run long; Xero caps Description at 4,000 characters.
_LONG_NOTE = (
    "Detailed time entry notes. "
    + " ".join(
        f"Step {n}: checked event logs, verified replication, confirmed backups and documented "
        f"the change in the client's runbook (ref KB-{1000 + n})."
        for n in range(1, 40)
    )
)[:4350]


@dataclass
class _Line:
    item_type: int
    item_name: str
    description: str
    quantity: Decimal
    rate: Decimal  # customer currency
    billing_code_id: int
    lob: int | None  # OrganizationalLevel2 id; None = no line of business
    cost: Decimal = Decimal(0)  # internal currency, per unit
    refs: dict[str, Any] = field(default_factory=dict)  # ticketID, projectChargeID, ...
    group: str = ""
    charge: str | None = None  # "ticket" | "project" | "contract" when backed by a charge
    product_id: int | None = None
    expense: bool = False


class BillingGenerator:
    """Builds invoices one by one; charges and expense records accumulate alongside."""

    def __init__(
        self,
        rng: random.Random,
        today: date,
        customers: Sequence[Customer],
        products: Sequence[Record],
        services: Sequence[Record],
        bundles: Sequence[Record],
        taxes: Sequence[Record],
        tax_region_names: dict[int, str],
    ) -> None:
        self.rng = rng
        self.today = today
        self.customers = customers
        self.products = [p for p in products if p["isActive"]]
        self.services = list(services)
        self.bundles = list(bundles)
        self.tax_rate = {
            (t["taxRegionID"], t["taxCategoryID"]): Decimal(str(t["taxRate"])) for t in taxes
        }
        self.tax_region_names = tax_region_names
        self.code_category = {spec.id: spec.tax_category for spec in cat.BILLING_CODES}
        self.out: dict[str, list[Record]] = {
            name: []
            for name in (
                "Invoices",
                "BillingItems",
                "ProjectCharges",
                "TicketCharges",
                "ContractCharges",
                "ExpenseReports",
                "ExpenseItems",
            )
        }
        self._report: Record | None = None

    # -- the plan ---------------------------------------------------------------------------

    def generate(self, count: int) -> dict[str, list[Record]]:
        rng = self.rng
        start = self.today - timedelta(days=WINDOW_DAYS - 1)
        days = sorted(start + timedelta(days=below(rng, WINDOW_DAYS)) for _ in range(count))
        specials = self._specials(count)
        owners = self._owners(count)
        for index in range(count):
            self._invoice(index, days[index], owners[index], specials.get(index, set()))
        return self.out

    def _specials(self, count: int) -> dict[int, set[str]]:
        quotas = (
            ("credit", 0.05),
            ("mixed_sign", 0.02),
            ("zero", 0.005),
            ("two_regions", 0.02),
            ("voided", 0.01),
            ("sent", 0.10),
            ("unicode", 0.02),
            ("long_text", 0.01),
        )
        kinds = [kind for kind, share in quotas for _ in range(max(1, round(count * share)))]
        # Amount-shaping kinds must not share an invoice; flags may.
        exclusive = [k for k in kinds if k in ("credit", "mixed_sign", "zero", "two_regions")]
        flags = [k for k in kinds if k not in exclusive]
        found: dict[int, set[str]] = {}
        for index, kind in zip(
            self.rng.sample(range(count), len(exclusive)), exclusive, strict=True
        ):
            found[index] = {kind}
        for kind in flags:
            found.setdefault(below(self.rng, count), set()).add(kind)
        return found

    def _owners(self, count: int) -> list[Customer]:
        # Every customer gets at least one invoice; the rest follow the customers' weights.
        owners = list(self.customers)[:count]
        weights = [c.weight for c in self.customers]
        owners += self.rng.choices(self.customers, weights=weights, k=count - len(owners))
        self.rng.shuffle(owners)
        return owners

    # -- one invoice ------------------------------------------------------------------------

    def _invoice(self, index: int, day: date, customer: Customer, special: set[str]) -> None:
        rng = self.rng
        invoice_id = 28_310 + index
        if "credit" in special:
            lines = [self._credit_line(customer, day) for _ in range(1 + below(rng, 3))]
        elif "zero" in special:
            lines = [self._warranty_line(customer, day)]
        else:
            count = rng.choices(_LINE_COUNTS, cum_weights=_LINE_COUNT_CUM)[0]
            lines = [self._line(customer, day) for _ in range(count)]
            if "mixed_sign" in special:
                lines.append(self._adjustment_line(customer, lines))
        if "unicode" in special:
            lines[0].description = rng.choice(_UNICODE_TEXTS)
        if "long_text" in special:
            lines[-1].description = _LONG_NOTE
        regions = [customer.region] * len(lines)
        if "two_regions" in special:
            lines.append(self._line(customer, day))
            regions.append("UK" if customer.region == "AU" else "AU")
            lines[-1].lob = lines[-1].lob or cat.LOB_MANAGED
        else:
            for line in lines:
                if rng.random() < 0.03:
                    line.lob = None  # not every billing item carries a line of business

        sent = "sent" in special
        web_service_date = (
            random_at(rng, min(self.today, day + timedelta(days=1))) if sent else None
        )
        total = tax_total = Decimal(0)
        for line, region in zip(lines, regions, strict=True):
            extended, tax = self._billing_item(
                invoice_id, customer, day, line, region, web_service_date
            )
            total += extended + tax
            tax_total += tax

        term_days = {i: d for i, _, d in cat.PAYMENT_TERMS}[customer.payment_term_id]
        voided = "voided" in special
        paid = sent and rng.random() < 0.4
        self.out["Invoices"].append(
            {
                "id": invoice_id,
                "invoiceNumber": str(1001 + index),
                "companyID": customer.id,
                "invoiceDateTime": at(day),
                "createDateTime": random_at(rng, day),
                "creatorResourceID": cat.CREATOR_RESOURCE_ID,
                "dueDate": at(day + timedelta(days=term_days)),
                "paymentTerm": customer.payment_term_id,
                "invoiceEditorTemplateID": customer.template_id,
                "invoiceTotal": float(total),
                "totalTaxValue": float(tax_total),
                "taxRegionName": self.tax_region_names[customer.tax_region_id],
                "orderNumber": f"PO{10_000 + below(rng, 90_000)}" if rng.random() < 0.2 else None,
                "fromDate": at(day.replace(day=1)),
                "toDate": at(day),
                "batchID": 500 + (day - self.today).days + WINDOW_DAYS,
                "comments": "Thank you for your business." if rng.random() < 0.1 else None,
                "isVoided": voided,
                "voidedDate": random_at(rng, min(self.today, day + timedelta(days=2)))
                if voided
                else None,
                "voidedByResourceID": cat.APPROVER_RESOURCE_ID if voided else None,
                "webServiceDate": web_service_date,
                "paidDate": at(min(self.today, day + timedelta(days=3))) if paid else None,
            }
        )

    def _billing_item(
        self,
        invoice_id: int,
        customer: Customer,
        day: date,
        line: _Line,
        region: str,
        web_service_date: str | None,
    ) -> tuple[Decimal, Decimal]:
        """Append the billing item (and its charge or expense); return its amount and tax."""
        rng = self.rng
        extended = money(line.quantity * line.rate)
        category = self.code_category[line.billing_code_id]
        rate_pct = (
            Decimal(0) if customer.tax_exempt else self.tax_rate[(customer.tax_region_id, category)]
        )
        tax = money(extended * rate_pct / 100)
        xr = customer.exchange_rate
        internal_extended = money(extended / xr)
        internal_tax = money(tax / xr)
        association = cat.association_id(region, line.lob) if line.lob else None
        item_id = 410_000 + len(self.out["BillingItems"])
        posted = day - timedelta(days=below(rng, 3))
        item: Record = {
            "id": item_id,
            "invoiceID": invoice_id,
            "companyID": customer.id,
            "billingItemType": line.item_type,
            "itemName": line.item_name,
            "description": line.description,
            "quantity": float(line.quantity),
            "rate": float(line.rate),
            "extendedPrice": float(extended),
            "taxDollars": float(tax),
            "totalAmount": float(extended + tax),
            "internalCurrencyRate": float((line.rate / xr).quantize(FOUR_DP)),
            "internalCurrencyExtendedPrice": float(internal_extended),
            "internalCurrencyTaxDollars": float(internal_tax),
            "internalCurrencyTotalAmount": float(internal_extended + internal_tax),
            "ourCost": float(money(line.cost * line.quantity)),
            "billingCodeID": line.billing_code_id,
            "taxCategoryID": category,
            "organizationalLevelAssociationID": association,
            "itemDate": at(posted - timedelta(days=below(rng, 6))),
            "postedDate": random_at(rng, posted),
            "lineItemGroupDescription": line.group,
            "webServiceDate": web_service_date,
            **line.refs,
        }
        if line.charge:
            item[f"{line.charge}ChargeID"] = self._charge(
                customer, day, line, extended, association
            )
        if line.expense:
            item["expenseItemID"] = self._expense_item(customer, day, line)
        self.out["BillingItems"].append(item)
        return extended, tax

    # -- line kinds -------------------------------------------------------------------------

    def _in_currency(
        self, customer: Customer, aud: Decimal, places: Decimal = Decimal("0.01")
    ) -> Decimal:
        return (aud * customer.exchange_rate).quantize(places)

    def _line(self, customer: Customer, day: date) -> _Line:
        kind = self.rng.choices(_LINE_KINDS, cum_weights=_LINE_KIND_CUM)[0]
        if kind == "labor":
            return self._labor_line(customer, day)
        if kind == "product":
            return self._product_line(customer, day)
        if kind == "recurring":
            return self._recurring_line(customer, day)
        if kind == "expense":
            return self._expense_line(customer)
        return self._milestone_line(customer)

    def _labor_line(self, customer: Customer, day: date) -> _Line:
        rng = self.rng
        project = rng.random() < 0.25
        name = "Project Labour" if project else rng.choice(cat.LABOR_CODES)
        spec = next(s for s in cat.BILLING_CODES if s.name == name)
        hours = Decimal(rng.choice(("0.25", "0.5", "0.75", "1", "1.5", "2", "3", "4", "7.5")))
        if rng.random() < 0.1:  # time rounded to the minute: 2 or 4 decimals
            hours = Decimal(rng.choice(("1.33", "0.17", "2.6667", "0.0833")))
        ticket = 45_000 + below(rng, 40_000)
        title = rng.choice(_TICKET_TITLES)
        refs: dict[str, Any] = {"timeEntryID": 600_000 + below(rng, 400_000), "roleID": 29682833}
        if project:
            refs |= {
                "projectID": 3_100 + below(rng, 900),
                "taskID": 8_000 + below(rng, 5_000),
            }
            description = f"{rng.choice(_PROJECTS)}: {title.lower()}"
        else:
            refs["ticketID"] = ticket
            description = f"T{day:%Y%m%d}.{ticket % 10_000:04d} - {title}"
        return _Line(
            cat.BIT_LABOR,
            name,
            description,
            hours,
            self._in_currency(customer, Decimal(str(spec.unit_price))),
            spec.id,
            cat.LOB_PROJECTS if project else cat.LOB_MANAGED,
            cost=Decimal("62.50"),
            refs=refs,
            group="Labour",
        )

    def _product_line(self, customer: Customer, day: date, *, sign: int = 1) -> _Line:
        rng = self.rng
        charge = rng.choices(_CHARGES, cum_weights=_CHARGE_CUM)[0]
        refs: dict[str, Any] = {}
        if charge == "ticket":
            refs["ticketID"] = 45_000 + below(rng, 40_000)
        elif charge == "project":
            refs["projectID"] = 3_100 + below(rng, 900)
        else:
            refs["contractID"] = self._contract_id(customer)
        if rng.random() < 0.1:  # an ad-hoc charge with no product behind it
            return _Line(
                {"ticket": cat.BIT_TICKET_CHARGE, "project": cat.BIT_PROJECT_CHARGE}.get(
                    charge, cat.BIT_CONTRACT_CHARGE
                ),
                "Sundry parts",
                "Cables, adaptors and fixings used on site",
                Decimal(sign),
                self._in_currency(customer, Decimal(rng.choice(("18.50", "42.00", "76.35")))),
                cat.BC["Miscellaneous Materials"],
                cat.LOB_HARDWARE,
                refs=refs,
                group="Hardware",
                charge=charge,
            )
        product = rng.choice(self.products)
        quantity = Decimal(
            rng.choice((1, 1, 1, 2, 3, 5, 10))
            if product["unitCost"] > 20
            else rng.choice((10, 20, 50))
        )
        if str(product["sku"]).startswith("HW-CAT6") and rng.random() < 0.3:
            quantity = Decimal("12.5")  # sold by the metre
        return _Line(
            {"ticket": cat.BIT_TICKET_CHARGE, "project": cat.BIT_PROJECT_CHARGE}.get(
                charge, cat.BIT_CONTRACT_CHARGE
            ),
            str(product["name"]),
            str(product["description"]),
            quantity * sign,
            self._in_currency(customer, Decimal(str(product["unitPrice"]))),
            int(product["productBillingCodeID"]),
            cat.LOB_HARDWARE,
            cost=Decimal(str(product["unitCost"])),
            refs=refs,
            group="Hardware",
            charge=charge,
            product_id=int(product["id"]),
        )

    def _recurring_line(self, customer: Customer, day: date) -> _Line:
        rng = self.rng
        contract = self._contract_id(customer)
        period = f"({day.replace(day=1):%d %b %Y} - {day:%d %b %Y})"
        if rng.random() < 0.2:
            bundle = rng.choice(self.bundles)
            index = self.bundles.index(bundle)
            refs = {
                "contractID": contract,
                "serviceBundleID": bundle["id"],
                "contractServiceBundleID": contract * 100 + 50 + index,
            }
            name, text, code = (
                str(bundle["name"]),
                str(bundle["invoiceDescription"]),
                int(bundle["billingCodeID"]),
            )
            price, cost = Decimal(str(bundle["unitPrice"])), Decimal(0)
        else:
            service = rng.choice(self.services)
            index = self.services.index(service)
            refs = {
                "contractID": contract,
                "serviceID": service["id"],
                "contractServiceID": contract * 100 + index,
            }
            name, text, code = (
                str(service["name"]),
                str(service["invoiceDescription"]),
                int(service["billingCodeID"]),
            )
            price, cost = Decimal(str(service["unitPrice"])), Decimal(str(service["unitCost"]))
        # Per-seat prices converted to another currency keep 4 decimals, as Autotask stores them.
        places = FOUR_DP if customer.currency != "AUD" and rng.random() < 0.5 else Decimal("0.01")
        return _Line(
            cat.BIT_RECURRING,
            name,
            f"{text} {period}",
            Decimal(rng.choice((1, 2, 3, 5, 8, 12, 15, 20, 25, 40, 60, 80))),
            self._in_currency(customer, price, places),
            code,
            cat.LOB_MANAGED,
            cost=cost,
            refs=refs,
            group="Recurring Services",
        )

    def _expense_line(self, customer: Customer) -> _Line:
        rng = self.rng
        name = rng.choice(("Travel", "Travel", "Accommodation", "Government Fees"))
        amount = Decimal(2_000 + below(rng, 58_001)) / 100
        text = {
            "Travel": "Mileage and parking for onsite visit",
            "Accommodation": "Hotel, 1 night (onsite project work)",
            "Government Fees": "Domain registration (.com.au) renewal fee",
        }[name]
        return _Line(
            cat.BIT_EXPENSE,
            name,
            text,
            Decimal(1),
            self._in_currency(customer, amount),
            cat.BC[name],
            rng.choice((cat.LOB_PROJECTS, cat.LOB_MANAGED)),
            cost=amount,
            refs={"projectID": 3_100 + below(rng, 900)},
            group="Expenses",
            expense=True,
        )

    def _milestone_line(self, customer: Customer) -> _Line:
        rng = self.rng
        project = rng.choice(_PROJECTS)
        amount = Decimal(rng.choice((2_500, 4_800, 7_500, 12_000, 24_950)))
        return _Line(
            cat.BIT_MILESTONE,
            f"{project} - milestone {1 + below(rng, 4)}",
            f"Fixed-price milestone: {project.lower()} phase complete",
            Decimal(1),
            self._in_currency(customer, amount),
            cat.BC["Project Milestone"],
            cat.LOB_PROJECTS,
            refs={
                "projectID": 3_100 + below(rng, 900),
                "milestoneID": 9_000 + below(rng, 2_000),
            },
            group="Projects",
        )

    def _credit_line(self, customer: Customer, day: date) -> _Line:
        rng = self.rng
        kind = rng.choice(("seats", "sla", "rma"))
        if kind == "rma":
            return self._product_line(customer, day, sign=-1)  # returned goods: negative quantity
        if kind == "seats":
            line = self._recurring_line(customer, day)
            line.item_type = cat.BIT_RECURRING_ADJUSTMENT
            line.quantity = -Decimal(1 + below(rng, 5))
            line.description = f"Credit: seats removed mid-period - {line.item_name}"
            return line
        return _Line(
            cat.BIT_RECURRING_ADJUSTMENT,
            "Service credit",
            "Service credit - SLA response target missed",
            Decimal(1),
            -self._in_currency(customer, Decimal(rng.choice((150, 250, 500)))),
            cat.BC["Managed Services Agreement"],
            cat.LOB_MANAGED,
            refs={"contractID": self._contract_id(customer)},
            group="Credits",
        )

    def _adjustment_line(self, customer: Customer, lines: list[_Line]) -> _Line:
        # A negative-quantity adjustment on an otherwise positive invoice (Xero refuses negative
        # quantities on invoices, so the agent needs a rule for it), kept below the positive sum.
        positive = sum((money(line.quantity * line.rate) for line in lines), Decimal(0))
        rate = money(positive * Decimal(self.rng.choice(("0.1", "0.2", "0.3")))) or Decimal("1.00")
        return _Line(
            cat.BIT_RECURRING_ADJUSTMENT,
            "Loyalty discount",
            "Adjustment: loyalty discount on this period's services",
            Decimal(-1),
            rate,
            cat.BC["Managed Services Agreement"],
            cat.LOB_MANAGED,
            refs={"contractID": self._contract_id(customer)},
            group="Adjustments",
        )

    def _warranty_line(self, customer: Customer, day: date) -> _Line:
        line = self._product_line(customer, day)
        line.rate = Decimal("0.00")
        line.description = f"Warranty replacement - no charge ({line.item_name})"
        return line

    def _contract_id(self, customer: Customer) -> int:
        return 2_000 + (customer.id - 174_000) // 3

    # -- records behind lines ---------------------------------------------------------------

    def _charge(
        self, customer: Customer, day: date, line: _Line, extended: Decimal, association: int | None
    ) -> int:
        assert line.charge is not None
        entity = {
            "ticket": "TicketCharges",
            "project": "ProjectCharges",
            "contract": "ContractCharges",
        }[line.charge]
        base = {"ticket": 71_000, "project": 61_000, "contract": 81_000}[line.charge]
        charge_id = base + len(self.out[entity])
        xr = customer.exchange_rate
        record: Record = {
            "id": charge_id,
            "name": line.item_name,
            "description": line.description,
            "productID": line.product_id,
            "unitQuantity": float(line.quantity),
            "unitPrice": float(line.rate),
            "unitCost": float(line.cost),
            "extendedCost": float(money(line.cost * line.quantity)),
            "billableAmount": float(extended),
            "internalCurrencyUnitPrice": float((line.rate / xr).quantize(FOUR_DP)),
            "internalCurrencyBillableAmount": float(money(extended / xr)),
            "billingCodeID": line.billing_code_id,
            "chargeType": 1,
            "status": cat.CHARGE_STATUS_BILLED,
            "isBillableToCompany": True,
            "isBilled": True,
            "datePurchased": at(day - timedelta(days=below(self.rng, 8))),
            "createDate": random_at(self.rng, day - timedelta(days=8)),
            "creatorResourceID": cat.CREATOR_RESOURCE_ID,
            "organizationalLevelAssociationID": association,
        }
        parent = {"ticket": "ticketID", "project": "projectID", "contract": "contractID"}[
            line.charge
        ]
        record[parent] = line.refs[parent]
        self.out[entity].append(record)
        return charge_id

    def _expense_item(self, customer: Customer, day: date, line: _Line) -> int:
        reports = self.out["ExpenseReports"]
        if self._report is None or self._report["_items"] >= 5:
            week_end = day + timedelta(days=(6 - day.weekday()) % 7)
            self._report = {
                "id": 1_200 + len(reports),
                "name": f"Expenses week ending {week_end:%d %b %Y}",
                "status": cat.EXPENSE_REPORT_APPROVED,
                "submit": True,
                "submitterID": cat.CREATOR_RESOURCE_ID,
                "approverID": cat.APPROVER_RESOURCE_ID,
                "submitDate": random_at(self.rng, day),
                "approvedDate": random_at(self.rng, day),
                "weekEnding": at(week_end),
                "internalCurrencyExpenseTotal": 0.0,
                "_items": 0,
            }
            reports.append(self._report)
        report = self._report
        report["_items"] += 1
        report["internalCurrencyExpenseTotal"] = float(
            Decimal(str(report["internalCurrencyExpenseTotal"])) + line.cost
        )
        items = self.out["ExpenseItems"]
        expense_id = 12_000 + len(items)
        items.append(
            {
                "id": expense_id,
                "expenseReportID": report["id"],
                "companyID": customer.id,
                "description": line.description,
                "expenseCategory": line.billing_code_id,
                "expenseDate": at(day - timedelta(days=1)),
                "expenseCurrencyID": 1,
                "expenseCurrencyExpenseAmount": float(line.cost),
                "internalCurrencyExpenseAmount": float(line.cost),
                "internalCurrencyReimbursementAmount": float(line.cost),
                "isBillableToCompany": True,
                "isReimbursable": True,
                "haveReceipt": True,
                "paymentType": 1,
                "projectID": line.refs.get("projectID"),
            }
        )
        return expense_id


def strip_private(records: list[Record]) -> None:
    """Drop the generator's bookkeeping keys (``_items``) before records leave the seed."""
    for record in records:
        for key in [k for k in record if k.startswith("_")]:
            del record[key]
