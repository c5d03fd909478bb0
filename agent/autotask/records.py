"""Typed Autotask records: the billing documents (invoices, their lines, charges, purchase orders).

Attributes are Autotask's own camelCase wire names (Appendix A of reference/autotask-api.md, from
the vendor Swagger), so a field reads the same here, in the reference and in Autotask's docs.
Every field but ``id`` is optional: queries may ask for a subset (``includeFields``) and the API
user may be unable to read some (cost fields). Unknown fields are ignored, so a new Autotask
release cannot break parsing. Money and quantities are Decimal (the client decodes JSON numbers
exactly); date-times are aware UTC datetimes (Autotask sends UTC without a ``Z``, reference §6).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from agent.autotask.wire import as_utc

UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]


class AutotaskRecord(BaseModel):
    """One record of an Autotask entity; ``entity`` is its path name (``/V1.0/{entity}``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    entity: ClassVar[str]

    id: int


class UserDefinedField(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    value: str | None = None


class Invoice(AutotaskRecord):
    entity: ClassVar[str] = "Invoices"

    batchID: int | None = None
    comments: str | None = None
    companyID: int | None = None
    createDateTime: UtcDateTime | None = None
    creatorResourceID: int | None = None
    dueDate: UtcDateTime | None = None
    fromDate: UtcDateTime | None = None
    invoiceDateTime: UtcDateTime | None = None
    invoiceEditorTemplateID: int | None = None
    invoiceNumber: str | None = None
    invoiceTotal: Decimal | None = None
    isVoided: bool | None = None
    orderNumber: str | None = None
    paidDate: UtcDateTime | None = None
    paymentTerm: int | None = None
    taxGroup: int | None = None
    taxRegionName: str | None = None
    toDate: UtcDateTime | None = None
    totalTaxValue: Decimal | None = None
    voidedByResourceID: int | None = None
    voidedDate: UtcDateTime | None = None
    webServiceDate: UtcDateTime | None = None
    invoiceStatus: int | None = None
    invoiceTaxMethodExternalCode: str | None = None


class BillingItem(AutotaskRecord):
    entity: ClassVar[str] = "BillingItems"

    accountManagerWhenApprovedID: int | None = None
    billingCodeID: int | None = None
    taxCategoryID: int | None = None
    billingItemType: int | None = None
    companyID: int | None = None
    configurationItemID: int | None = None
    contractBlockID: int | None = None
    contractChargeID: int | None = None
    contractID: int | None = None
    contractServiceAdjustmentID: int | None = None
    contractServiceBundleAdjustmentID: int | None = None
    contractServiceBundleID: int | None = None
    contractServiceBundlePeriodID: int | None = None
    contractServiceID: int | None = None
    contractServicePeriodID: int | None = None
    description: str | None = None
    expenseItemID: int | None = None
    extendedPrice: Decimal | None = None
    internalCurrencyExtendedPrice: Decimal | None = None
    internalCurrencyRate: Decimal | None = None
    internalCurrencyTaxDollars: Decimal | None = None
    internalCurrencyTotalAmount: Decimal | None = None
    invoiceID: int | None = None
    itemApproverID: int | None = None
    itemDate: UtcDateTime | None = None
    itemName: str | None = None
    lineItemFullDescription: str | None = None
    lineItemGroupDescription: str | None = None
    milestoneID: int | None = None
    nonBillable: int | None = None
    organizationalLevelAssociationID: int | None = None
    ourCost: Decimal | None = None
    postedDate: UtcDateTime | None = None
    postedOnTime: UtcDateTime | None = None
    projectChargeID: int | None = None
    projectID: int | None = None
    purchaseOrderNumber: str | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    roleID: int | None = None
    serviceBundleID: int | None = None
    serviceID: int | None = None
    sortOrderID: int | None = None
    subType: int | None = None
    taskID: int | None = None
    taxDollars: Decimal | None = None
    ticketChargeID: int | None = None
    ticketID: int | None = None
    timeEntryID: int | None = None
    totalAmount: Decimal | None = None
    vendorID: int | None = None
    webServiceDate: UtcDateTime | None = None


class Charge(AutotaskRecord):
    """Fields shared by project, ticket and contract charges; ``productID`` names the product
    of a billing item, which has none itself (reference §8)."""

    billableAmount: Decimal | None = None
    billingCodeID: int | None = None
    chargeType: int | None = None
    contractServiceBundleID: int | None = None
    contractServiceID: int | None = None
    createDate: UtcDateTime | None = None
    creatorResourceID: int | None = None
    datePurchased: UtcDateTime | None = None
    description: str | None = None
    extendedCost: Decimal | None = None
    internalCurrencyBillableAmount: Decimal | None = None
    internalCurrencyUnitPrice: Decimal | None = None
    internalPurchaseOrderNumber: str | None = None
    isBillableToCompany: bool | None = None
    isBilled: bool | None = None
    name: str | None = None
    notes: str | None = None
    organizationalLevelAssociationID: int | None = None
    productID: int | None = None
    purchaseOrderNumber: str | None = None
    status: int | None = None
    statusLastModifiedBy: int | None = None
    statusLastModifiedDate: UtcDateTime | None = None
    unitCost: Decimal | None = None
    unitPrice: Decimal | None = None
    unitQuantity: Decimal | None = None


class ProjectCharge(Charge):
    entity: ClassVar[str] = "ProjectCharges"

    estimatedCost: Decimal | None = None
    projectID: int | None = None


class TicketCharge(Charge):
    entity: ClassVar[str] = "TicketCharges"

    ticketID: int | None = None


class ContractCharge(Charge):
    entity: ClassVar[str] = "ContractCharges"

    contractID: int | None = None


class PurchaseOrder(AutotaskRecord):
    entity: ClassVar[str] = "PurchaseOrders"

    cancelDateTime: UtcDateTime | None = None
    createDateTime: UtcDateTime | None = None
    creatorResourceID: int | None = None
    externalPONumber: str | None = None
    fax: str | None = None
    freight: Decimal | None = None
    generalMemo: str | None = None
    impersonatorCreatorResourceID: int | None = None
    internalCurrencyFreight: Decimal | None = None
    latestEstimatedArrivalDate: UtcDateTime | None = None
    paymentTerm: int | None = None
    phone: str | None = None
    purchaseForCompanyID: int | None = None
    purchaseOrderNumber: str | None = None
    purchaseOrderTemplateID: int | None = None
    shippingDate: UtcDateTime | None = None
    shippingType: int | None = None
    shipToAddress1: str | None = None
    shipToAddress2: str | None = None
    shipToCity: str | None = None
    shipToName: str | None = None
    shipToPostalCode: str | None = None
    shipToState: str | None = None
    showEachTaxInGroup: bool | None = None
    showTaxCategory: bool | None = None
    status: int | None = None
    submitDateTime: UtcDateTime | None = None
    taxRegionID: int | None = None
    useItemDescriptionsFrom: int | None = None
    vendorID: int | None = None
    vendorInvoiceNumber: str | None = None
    additionalVendorInvoiceNumbers: str | None = None


class PurchaseOrderItem(AutotaskRecord):
    entity: ClassVar[str] = "PurchaseOrderItems"

    chargeID: int | None = None
    contractID: int | None = None
    estimatedArrivalDate: UtcDateTime | None = None
    internalCurrencyUnitCost: Decimal | None = None
    inventoryLocationID: int | None = None
    memo: str | None = None
    orderID: int | None = None
    productID: int | None = None
    projectID: int | None = None
    quantity: int | None = None
    salesOrderID: int | None = None
    ticketID: int | None = None
    unitCost: Decimal | None = None


class PurchaseOrderItemReceiving(AutotaskRecord):
    entity: ClassVar[str] = "PurchaseOrderItemReceiving"

    purchaseOrderItemID: int | None = None
    quantityBackOrdered: int | None = None
    quantityNowReceiving: int | None = None
    quantityPreviouslyReceived: int | None = None
    receiveDate: UtcDateTime | None = None
    receivedByResourceID: int | None = None
    serialNumber: str | None = None
    vendorInvoiceNumber: str | None = None
