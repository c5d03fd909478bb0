"""Fixed reference data of the seeded MSP "Acme IT": its Autotask set-up and its two Xero books.

Picklist values (company types, billing item types, PO statuses, billing-code use types) are not
in the Autotask Swagger; each tenant reads them from ``entityInformation/fields``. The ids below are
the sandbox's own, chosen to look like Autotask's, and exported so the simulated
``entityInformation`` can serve the same labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- Autotask picklists (sandbox values) ----------------------------------------------------------

COMPANY_TYPES: Final = {
    1: "Customer",
    2: "Lead",
    3: "Prospect",
    4: "Dead",
    7: "Vendor",
    8: "Partner",
}
COMPANY_TYPE_CUSTOMER: Final = 1
COMPANY_TYPE_VENDOR: Final = 7

BILLING_CODE_USE_TYPES: Final = {
    1: "Work Type",
    2: "Internal Time",
    3: "Material",
    4: "Expense Category",
    5: "Recurring Contract Service",
    6: "Milestone",
}

BILLING_ITEM_TYPES: Final = {
    1: "Labor",
    3: "Project Charge",
    4: "Ticket Charge",
    5: "Contract Charge",
    6: "Expense",
    7: "Milestone",
    9: "Recurring Service",
    10: "Recurring Service Adjustment",
}
BIT_LABOR, BIT_PROJECT_CHARGE, BIT_TICKET_CHARGE, BIT_CONTRACT_CHARGE = 1, 3, 4, 5
BIT_EXPENSE, BIT_MILESTONE, BIT_RECURRING, BIT_RECURRING_ADJUSTMENT = 6, 7, 9, 10

PURCHASE_ORDER_STATUSES: Final = {
    1: "New",
    2: "Submitted",
    3: "Partially Received",
    4: "Received Full",
    5: "Cancelled",
}
PO_NEW, PO_SUBMITTED, PO_PARTIAL, PO_RECEIVED, PO_CANCELLED = 1, 2, 3, 4, 5

CHARGE_STATUS_BILLED: Final = 2  # ProjectCharges/TicketCharges/ContractCharges.status
EXPENSE_REPORT_APPROVED: Final = 4  # ExpenseReports.status
COUNTRY_IDS: Final = {"AU": 14, "NZ": 158, "GB": 225, "US": 237}

# The Autotask resource (employee) that created everything; Autotask always names one.
CREATOR_RESOURCE_ID: Final = 29682885
APPROVER_RESOURCE_ID: Final = 29682890


@dataclass(frozen=True)
class ResourceSpec:
    """One Autotask resource (an employee): who creates, approves and submits expense reports."""

    id: int
    first_name: str
    last_name: str
    title: str
    active: bool = True
    resource_type: str = "Employee"  # Resources.resourceType (a string in the Swagger)


# Every resource id the seed names (creator, approver, expense submitters) is one of these,
# plus a few technicians and one who has left (inactive), as a real MSP's list has.
RESOURCES: Final = (
    ResourceSpec(CREATOR_RESOURCE_ID, "Sam", "Carter", "Service Delivery Manager"),
    ResourceSpec(29682886, "Priya", "Nair", "Senior Engineer"),
    ResourceSpec(29682887, "Tom", "Hughes", "Field Technician"),
    ResourceSpec(29682888, "Aroha", "Ngata", "Service Desk Analyst"),
    ResourceSpec(29682889, "Liam", "O'Brien", "Field Technician", active=False),
    ResourceSpec(APPROVER_RESOURCE_ID, "Grace", "Whitfield", "Finance Manager"),
)


# --- Currencies -------------------------------------------------------------------------------

# Autotask: the MSP's internal currency is AUD. exchangeRate = units of the currency per 1 AUD.
AUTOTASK_CURRENCIES: Final = (
    # id, ISO code, description, exchangeRate, internal
    (1, "AUD", "Australian Dollar", 1.0, True),
    (2, "NZD", "New Zealand Dollar", 1.0912, False),
    (3, "GBP", "Pound Sterling", 0.5187, False),
    (4, "USD", "US Dollar", 0.6563, False),
)
CURRENCY_DESCRIPTIONS: Final = {
    "AUD": "Australian Dollar",
    "NZD": "New Zealand Dollar",
    "GBP": "Pound Sterling",
    "USD": "United States Dollar",
    "EUR": "Euro",
}


# --- Organisation structure: Level 1 = region (routes to a Xero org), Level 2 = line of business

ORG_LEVEL1: Final = ((1, "Australia"), (2, "United Kingdom"))
ORG_LEVEL2: Final = ((1, "Managed Services"), (2, "Projects"), (3, "Hardware"))
# association id -> (level1 id, level2 id)
ORG_ASSOCIATIONS: Final = {
    101: (1, 1),
    102: (1, 2),
    103: (1, 3),
    201: (2, 1),
    202: (2, 2),
    203: (2, 3),
}
REGIONS: Final = ("AU", "UK")
REGION_LEVEL1: Final = {"AU": 1, "UK": 2}
LOB_MANAGED, LOB_PROJECTS, LOB_HARDWARE = 1, 2, 3


def association_id(region: str, lob: int) -> int:
    return (100 if region == "AU" else 200) + lob


# --- Tax ----------------------------------------------------------------------------------------

TAX_REGIONS: Final = (
    (1, "Australia GST"),
    (2, "New Zealand GST"),
    (3, "UK VAT"),
    (4, "Export/Exempt"),
)
TR_AU, TR_NZ, TR_UK, TR_EXPORT = 1, 2, 3, 4
TAX_CATEGORIES: Final = (
    (1, "Standard", "Taxable at the region's standard rate"),
    (2, "Exempt", "Exempt supplies (e.g. financial services, government fees)"),
    (3, "Zero rated", "Zero-rated supplies (e.g. exports, some freight)"),
)
TC_STANDARD, TC_EXEMPT, TC_ZERO = 1, 2, 3
STANDARD_RATES: Final = {TR_AU: ("GST", 10.0), TR_NZ: ("GST", 15.0), TR_UK: ("VAT", 20.0)}


# --- Payment terms and invoice templates --------------------------------------------------------

PAYMENT_TERMS: Final = (
    (1, "Due on receipt", 0),
    (2, "Net 7", 7),
    (3, "Net 14", 14),
    (4, "Net 30", 30),
)
INVOICE_TEMPLATES: Final = (
    (1, "Standard Invoice", 3),
    (2, "Detailed Project Invoice", 3),
    (3, "UK Invoice", 4),
)


# --- Billing codes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillingCodeSpec:
    id: int
    name: str
    use_type: int
    external_number: str | None  # a Xero account code, or None (the agent needs a mapping)
    tax_category: int
    unit_price: float | None = None
    active: bool = True


BILLING_CODES: Final = (
    BillingCodeSpec(29682801, "Remote Support", 1, "200", TC_STANDARD, 165.0),
    BillingCodeSpec(29682802, "Onsite Support", 1, "200", TC_STANDARD, 185.0),
    BillingCodeSpec(29682803, "After Hours Support", 1, "200", TC_STANDARD, 247.5),
    BillingCodeSpec(29682804, "Project Labour", 1, "200", TC_STANDARD, 175.0),
    BillingCodeSpec(29682805, "Consulting", 1, "260", TC_STANDARD, 220.0),
    BillingCodeSpec(29682806, "Internal Admin", 2, None, TC_EXEMPT, 0.0),
    BillingCodeSpec(29682811, "Hardware", 3, "200", TC_STANDARD),
    BillingCodeSpec(29682812, "Software Licences", 3, "200", TC_STANDARD),
    BillingCodeSpec(29682813, "Shipping & Handling", 3, "425", TC_ZERO),
    BillingCodeSpec(29682814, "Miscellaneous Materials", 3, None, TC_STANDARD),
    BillingCodeSpec(29682815, "Legacy Hardware Sales", 3, "215", TC_STANDARD, active=False),
    BillingCodeSpec(29682821, "Travel", 4, "493", TC_STANDARD),
    BillingCodeSpec(29682822, "Accommodation", 4, None, TC_STANDARD),
    BillingCodeSpec(29682823, "Government Fees", 4, "260", TC_EXEMPT),
    BillingCodeSpec(29682831, "Managed Services Agreement", 5, "200", TC_STANDARD),
    BillingCodeSpec(29682832, "Backup & Disaster Recovery", 5, "200", TC_STANDARD),
    BillingCodeSpec(29682833, "Microsoft 365 Licences", 5, None, TC_STANDARD),
    BillingCodeSpec(29682834, "Security Bundle", 5, "200", TC_STANDARD),
    BillingCodeSpec(29682841, "Project Milestone", 6, "200", TC_STANDARD),
)
BC = {spec.name: spec.id for spec in BILLING_CODES}
LABOR_CODES: Final = ("Remote Support", "Onsite Support", "After Hours Support", "Consulting")


# --- Products, services, bundles ---------------------------------------------------------------

# sku, name, manufacturer, unitCost (AUD), billing code name
PRODUCTS: Final = (
    ("HW-LAT5440", "Dell Latitude 5440 Laptop i5/16GB/512GB", "Dell", 1289.0, "Hardware"),
    ("HW-LAT7440", "Dell Latitude 7440 Laptop i7/32GB/1TB", "Dell", 2149.0, "Hardware"),
    ("HW-OPT7010", "Dell OptiPlex 7010 Micro Desktop", "Dell", 1095.0, "Hardware"),
    ("HW-P2423D", 'Dell P2423D 24" QHD Monitor', "Dell", 329.0, "Hardware"),
    ("HW-WD19S", "Dell WD19S USB-C Dock", "Dell", 259.0, "Hardware"),
    ("HW-HPE-DL380", "HPE ProLiant DL380 Gen11 Server", "HPE", 9890.0, "Hardware"),
    ("HW-MX-MX68", "Cisco Meraki MX68 Security Appliance", "Cisco", 1150.0, "Hardware"),
    ("HW-MR36", "Cisco Meraki MR36 Access Point", "Cisco", 845.0, "Hardware"),
    ("HW-MS120-24P", "Cisco Meraki MS120-24P PoE Switch", "Cisco", 1710.0, "Hardware"),
    ("HW-UBNT-U6P", "Ubiquiti UniFi U6 Pro Access Point", "Ubiquiti", 239.0, "Hardware"),
    ("HW-SYN-DS923", "Synology DiskStation DS923+ NAS", "Synology", 899.0, "Hardware"),
    ("HW-WD-8TB", "WD Red Plus 8TB NAS Hard Drive", "Western Digital", 289.0, "Hardware"),
    ("HW-APC-1500", "APC Smart-UPS 1500VA LCD RM 2U", "APC", 1189.0, "Hardware"),
    ("HW-LOGI-MK540", "Logitech MK540 Wireless Keyboard & Mouse", "Logitech", 59.0, "Hardware"),
    ("HW-JABRA-EV2", "Jabra Evolve2 65 Headset", "Jabra", 279.0, "Hardware"),
    ("HW-YUBI-5C", "Yubico YubiKey 5C NFC", "Yubico", 89.0, "Hardware"),
    ("HW-CAT6-3M", "Cat6 Patch Lead 3m", "Generic", 4.5, "Hardware"),
    ("HW-SFP-10G", "10GBase-SR SFP+ Transceiver", "FS.com", 39.0, "Hardware"),
    (
        "SW-M365-BP",
        "Microsoft 365 Business Premium (annual)",
        "Microsoft",
        396.0,
        "Software Licences",
    ),
    ("SW-M365-E3", "Microsoft 365 E3 (annual)", "Microsoft", 595.0, "Software Licences"),
    ("SW-ADOBE-CC", "Adobe Creative Cloud All Apps (annual)", "Adobe", 1088.0, "Software Licences"),
    ("SW-WIN11-PRO", "Windows 11 Pro Upgrade", "Microsoft", 269.0, "Software Licences"),
    ("SW-SQL-STD", "SQL Server 2022 Standard 2-core", "Microsoft", 4980.0, "Software Licences"),
    (
        "SW-VEEAM-VUL",
        "Veeam Data Platform Foundation VUL (10)",
        "Veeam",
        1480.0,
        "Software Licences",
    ),
    (
        "SW-S1-CORE",
        "SentinelOne Singularity Core (annual)",
        "SentinelOne",
        58.0,
        "Software Licences",
    ),
    ("SH-COURIER", "Courier - Metro Delivery", "Generic", 18.0, "Shipping & Handling"),
    ("SH-FREIGHT", "Freight - Interstate Pallet", "Generic", 145.0, "Shipping & Handling"),
    ("MISC-CABLING", "Structured Cabling Sundries", "Generic", 35.0, "Miscellaneous Materials"),
)

# name, invoiceDescription, billing code name, unitPrice (per month), unitCost
SERVICES: Final = (
    (
        "Managed Workstation",
        "Managed workstation - per device",
        "Managed Services Agreement",
        65.0,
        18.0,
    ),
    ("Managed Server", "Managed server - per server", "Managed Services Agreement", 285.0, 70.0),
    ("Managed Network", "Managed network - per site", "Managed Services Agreement", 195.0, 40.0),
    ("Cloud Backup 1TB", "Cloud backup - per TB", "Backup & Disaster Recovery", 149.0, 62.0),
    (
        "M365 Business Premium",
        "Microsoft 365 Business Premium - per user",
        "Microsoft 365 Licences",
        33.0,
        27.5,
    ),
    (
        "M365 Business Basic",
        "Microsoft 365 Business Basic - per user",
        "Microsoft 365 Licences",
        9.35,
        7.6,
    ),
    (
        "Security Awareness Training",
        "Security awareness training - per user",
        "Security Bundle",
        6.5,
        2.1,
    ),
    ("EDR Protection", "Endpoint detection & response - per device", "Security Bundle", 11.25, 4.8),
    ("Email Security", "Email filtering & archiving - per mailbox", "Security Bundle", 4.95, 1.9),
)
# name, description, member service names, percentageDiscount
SERVICE_BUNDLES: Final = (
    (
        "Essentials Bundle",
        "Workstation + EDR + email security",
        ("Managed Workstation", "EDR Protection", "Email Security"),
        10.0,
    ),
    (
        "Complete Bundle",
        "Workstation + EDR + backup + training",
        (
            "Managed Workstation",
            "EDR Protection",
            "Cloud Backup 1TB",
            "Security Awareness Training",
        ),
        15.0,
    ),
    ("Server Care Bundle", "Managed server + backup", ("Managed Server", "Cloud Backup 1TB"), 5.0),
)


# Vendors (Autotask companies of type Vendor, Xero suppliers): name, region, currency
VENDORS: Final = (
    ("Ingram Micro Australia", "AU", "AUD"),
    ("Dicker Data Limited", "AU", "AUD"),
    ("Leader Computers Pty Ltd", "AU", "AUD"),
    ("TD SYNNEX Australia", "AU", "AUD"),
    ("Westcoast Limited", "UK", "GBP"),
    ("TD SYNNEX UK Limited", "UK", "GBP"),
    ("Ubiquiti Store US", "AU", "USD"),
)


# --- Xero: the two organisations --------------------------------------------------------------


@dataclass(frozen=True)
class XeroOrgSpec:
    name: str
    region: str  # the Autotask OrganizationalLevel1 it serves
    country_code: str
    base_currency: str
    currencies: tuple[str, ...]
    sales_tax: str  # TaxType on revenue accounts
    purchase_tax: str
    no_tax: str


XERO_ORGS: Final = (
    XeroOrgSpec(
        "Acme IT Pty Ltd",
        "AU",
        "AU",
        "AUD",
        ("AUD", "NZD", "USD"),
        "OUTPUT",
        "INPUT",
        "BASEXCLUDED",
    ),
    XeroOrgSpec(
        "Acme IT UK Ltd", "UK", "GB", "GBP", ("GBP", "USD", "EUR"), "OUTPUT2", "INPUT2", "NONE"
    ),
)


# Code, Name, Type, Class, tax kind ("sales"/"purchase"/"none"), SystemAccount, Status
CHART_OF_ACCOUNTS: Final = (
    ("090", "Business Bank Account", "BANK", "ASSET", "none", None, "ACTIVE"),
    ("200", "Sales", "REVENUE", "REVENUE", "sales", None, "ACTIVE"),
    ("215", "Legacy Hardware Sales", "REVENUE", "REVENUE", "sales", None, "ARCHIVED"),
    ("260", "Other Revenue", "REVENUE", "REVENUE", "sales", None, "ACTIVE"),
    ("270", "Interest Income", "REVENUE", "REVENUE", "none", None, "ACTIVE"),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "purchase", None, "ACTIVE"),
    ("400", "Advertising", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("404", "Bank Fees", "EXPENSE", "EXPENSE", "none", None, "ACTIVE"),
    ("412", "Consulting & Accounting", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("420", "Entertainment", "EXPENSE", "EXPENSE", "none", None, "ACTIVE"),
    ("425", "Freight & Courier", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("429", "General Expenses", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("433", "Insurance", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("453", "Office Expenses", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("469", "Rent", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("477", "Wages and Salaries", "EXPENSE", "EXPENSE", "none", None, "ACTIVE"),
    ("485", "Subscriptions", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("489", "Telephone & Internet", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("493", "Travel - National", "EXPENSE", "EXPENSE", "purchase", None, "ACTIVE"),
    ("494", "Travel - International", "EXPENSE", "EXPENSE", "none", None, "ACTIVE"),
    ("610", "Accounts Receivable", "CURRENT", "ASSET", "none", "DEBTORS", "ACTIVE"),
    ("630", "Inventory", "INVENTORY", "ASSET", "none", None, "ACTIVE"),
    ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", "none", "CREDITORS", "ACTIVE"),
    ("820", "Sales Tax", "CURRLIAB", "LIABILITY", "none", "GST", "ACTIVE"),
    ("860", "Rounding", "CURRLIAB", "LIABILITY", "none", "ROUNDING", "ACTIVE"),
    ("877", "Tracking Transfers", "CURRLIAB", "LIABILITY", "none", "TRACKINGTRANSFERS", "ACTIVE"),
    ("960", "Retained Earnings", "EQUITY", "EQUITY", "none", "RETAINEDEARNINGS", "ACTIVE"),
)

# Name, TaxType, ReportTaxType, rate, component name, revenue?, expenses?, Status
XERO_TAX_RATES: Final = {
    "AU": (
        ("GST on Income", "OUTPUT", "OUTPUT", 10.0, "GST", True, False, "ACTIVE"),
        ("GST on Expenses", "INPUT", "INPUT", 10.0, "GST", False, True, "ACTIVE"),
        ("GST Free Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", 0.0, "GST", True, False, "ACTIVE"),
        (
            "GST Free Expenses",
            "EXEMPTEXPENSES",
            "EXEMPTEXPENSES",
            0.0,
            "GST",
            False,
            True,
            "ACTIVE",
        ),
        ("GST Free Exports", "EXEMPTEXPORT", "EXEMPTEXPORT", 0.0, "GST", True, False, "ACTIVE"),
        ("GST on Imports", "GSTONIMPORTS", "GSTONIMPORTS", 0.0, "GST", False, True, "ACTIVE"),
        ("GST on Capital", "CAPEXINPUT", "CAPEXINPUT", 10.0, "GST", False, True, "ACTIVE"),
        ("Input Taxed", "INPUTTAXED", "INPUTTAXED", 0.0, "GST", True, True, "ACTIVE"),
        ("BAS Excluded", "BASEXCLUDED", "BASEXCLUDED", 0.0, "GST", True, True, "ACTIVE"),
        ("Old Export Rate", "TAX001", "EXEMPTEXPORT", 0.0, "Export", True, False, "DELETED"),
        ("Luxury Car Tax", "TAX002", "INPUT", 33.0, "LCT", False, True, "ARCHIVED"),
    ),
    "GB": (
        ("20% (VAT on Income)", "OUTPUT2", "OUTPUT", 20.0, "VAT", True, False, "ACTIVE"),
        ("20% (VAT on Expenses)", "INPUT2", "INPUT", 20.0, "VAT", False, True, "ACTIVE"),
        ("5% (VAT on Income)", "RROUTPUT", "OUTPUT", 5.0, "VAT", True, False, "ACTIVE"),
        ("5% (VAT on Expenses)", "RRINPUT", "INPUT", 5.0, "VAT", False, True, "ACTIVE"),
        (
            "Zero Rated Income",
            "ZERORATEDOUTPUT",
            "ZERORATEDOUTPUT",
            0.0,
            "VAT",
            True,
            False,
            "ACTIVE",
        ),
        (
            "Zero Rated Expenses",
            "ZERORATEDINPUT",
            "ZERORATEDINPUT",
            0.0,
            "VAT",
            False,
            True,
            "ACTIVE",
        ),
        ("Exempt Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", 0.0, "VAT", True, False, "ACTIVE"),
        ("Exempt Expenses", "EXEMPTINPUT", "EXEMPTINPUT", 0.0, "VAT", False, True, "ACTIVE"),
        ("No VAT", "NONE", "NONE", 0.0, "VAT", True, True, "ACTIVE"),
        ("17.5% (VAT on Income)", "TAX001", "OUTPUT", 17.5, "VAT", True, False, "DELETED"),
        ("15% (VAT on Income)", "TAX002", "OUTPUT", 15.0, "VAT", True, False, "ARCHIVED"),
    ),
}


BRANDING_THEMES: Final = (("Standard", 0), ("Special Projects", 1), ("Statement Only", 2))


# --- Words for customer names ------------------------------------------------------------------

NAME_PLACES_AU: Final = (
    "Harbour View", "Northside", "Bayside", "Southern Cross", "Eastwood", "Riverbend", "Kingfisher",
    "Coastal", "Red Gum", "Blue Mountains", "Ironbark", "Wattle", "Pinnacle", "Summit", "Parkside",
    "Lakeside", "Westgate", "Brightwater", "Silver Wattle", "Goldfields", "Cape", "Outback",
    "Barrier Reef", "Yarra", "Swan River", "Hunter Valley", "Illawarra", "Darling", "Mornington",
    "Sunshine", "Emerald", "Granite", "Banksia", "Jacaranda", "Koala", "Magpie", "Kookaburra",
)  # fmt: skip
NAME_PLACES_UK: Final = (
    "Thames Valley", "Pennine", "Cotswold", "Severn", "Mersey", "Highland", "Chiltern", "Wessex",
    "Mendip", "Solent", "Fenland", "Brecon", "Tyneside", "Kentish", "Moorland", "Downland",
    "Old Street", "Canary", "Harrow", "Albion", "Windsor", "Avon", "Trent", "Clyde", "Humber",
)  # fmt: skip
NAME_TRADES: Final = (
    "Dental", "Legal", "Accounting", "Physiotherapy", "Veterinary Clinic", "Architects",
    "Engineering", "Logistics", "Plumbing", "Electrical", "Real Estate", "Medical Centre",
    "Financial Planning", "Construction", "Surveyors", "Pharmacy", "Optometrists", "Bakery",
    "Freight", "Motors", "Solar", "Landscaping", "Printing", "Insurance Brokers", "Marketing",
    "Recruitment", "Childcare", "Wines", "Brewing Co", "Joinery", "Glass", "Security",
    "Property Group", "Health", "Consulting", "Labs", "Studios", "Travel", "Foods", "Trading",
)  # fmt: skip
SUFFIXES_AU: Final = ("Pty Ltd", "Pty Ltd", "Pty Ltd", "", "Group", "& Co")
SUFFIXES_UK: Final = ("Ltd", "Ltd", "Limited", "LLP", "", "plc")
# A few real-world shapes that stress encodings and matching.
UNICODE_NAMES: Final = (
    ("Café Müller Pty Ltd", "AU"),
    ("Zoë's Bakehouse", "AU"),
    ("Ōtautahi Design Ltd", "AU"),
    ("Søren & Björk Architects Ltd", "UK"),
    ("Crème de la Crème Catering Ltd", "UK"),
)
FIRST_NAMES: Final = (
    "Olivia", "Jack", "Charlotte", "William", "Amelia", "Noah", "Isla", "Oliver", "Mia", "Thomas",
    "Grace", "James", "Chloe", "Lucas", "Sophie", "Liam", "Ruby", "Ethan", "Zoë", "Siobhán",
    "Priya", "Wei", "Aroha", "Mohammed", "Fatima", "Nguyen", "Hannah", "Daniel", "Emily", "Sam",
)  # fmt: skip
LAST_NAMES: Final = (
    "Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin",
    "White", "Anderson", "Walker", "Thompson", "Harris", "O'Brien", "Kelly", "Patel", "Chen",
    "Singh", "MacDonald", "Evans", "Davies", "Roberts", "Hughes", "Ngata", "Fitzgerald",
)  # fmt: skip
CITIES: Final = {
    "AU": (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000"), ("Brisbane", "QLD", "4000"),
           ("Perth", "WA", "6000"), ("Adelaide", "SA", "5000"), ("Hobart", "TAS", "7000"),
           ("Newcastle", "NSW", "2300"), ("Geelong", "VIC", "3220")),
    "UK": (("London", "Greater London", "EC1A 1BB"), ("Manchester", "Greater Manchester", "M1 1AE"),
           ("Bristol", "Bristol", "BS1 4DJ"), ("Leeds", "West Yorkshire", "LS1 4AP"),
           ("Edinburgh", "City of Edinburgh", "EH1 1YZ"), ("Reading", "Berkshire", "RG1 1AF")),
}  # fmt: skip
STREETS: Final = (
    "George Street", "King Street", "Queen Street", "High Street", "Station Road", "Church Lane",
    "Collins Street", "Pitt Street", "Victoria Road", "Market Street", "Park Avenue", "Mill Lane",
)  # fmt: skip
