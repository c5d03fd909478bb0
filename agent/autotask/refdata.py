"""Typed Autotask records: customers, catalogue and reference data (see ``records`` for the rules).

Entities: Companies, Contacts, CompanyLocations, BillingCodes, TaxRegions, TaxCategories, Taxes,
Currencies, OrganizationalLevel1s/2s/Associations (lines of business), InvoiceTemplates,
PaymentTerms, Products, Services, ServiceBundles (reference §8, Appendix A).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from agent.autotask.records import AutotaskRecord, UserDefinedField, UtcDateTime


class Company(AutotaskRecord):
    entity: ClassVar[str] = "Companies"

    additionalAddressInformation: str | None = None
    address1: str | None = None
    address2: str | None = None
    alternatePhone1: str | None = None
    alternatePhone2: str | None = None
    apiVendorID: int | None = None
    assetValue: Decimal | None = None
    billToCompanyLocationID: int | None = None
    billToAdditionalAddressInformation: str | None = None
    billingAddress1: str | None = None
    billingAddress2: str | None = None
    billToAddressToUse: int | None = None
    billToAttention: str | None = None
    billToCity: str | None = None
    billToCountryID: int | None = None
    billToState: str | None = None
    billToZipCode: str | None = None
    city: str | None = None
    classification: int | None = None
    companyCategoryID: int | None = None
    companyName: str | None = None
    companyNumber: str | None = None
    companyType: int | None = None
    competitorID: int | None = None
    countryID: int | None = None
    createDate: UtcDateTime | None = None
    createdByResourceID: int | None = None
    currencyID: int | None = None
    fax: str | None = None
    impersonatorCreatorResourceID: int | None = None
    invoiceEmailMessageID: int | None = None
    invoiceMethod: int | None = None
    invoiceNonContractItemsToParentCompany: bool | None = None
    invoiceTemplateID: int | None = None
    isActive: bool | None = None
    isClientPortalActive: bool | None = None
    isEnabledForComanaged: bool | None = None
    isSample: bool | None = None
    isTaskFireActive: bool | None = None
    isTaxExempt: bool | None = None
    lastActivityDate: UtcDateTime | None = None
    lastTrackedModifiedDateTime: UtcDateTime | None = None
    marketSegmentID: int | None = None
    ownerResourceID: int | None = None
    parentCompanyID: int | None = None
    phone: str | None = None
    postalCode: str | None = None
    purchaseOrderTemplateID: int | None = None
    quoteEmailMessageID: int | None = None
    quoteTemplateID: int | None = None
    sicCode: str | None = None
    state: str | None = None
    stockMarket: str | None = None
    stockSymbol: str | None = None
    surveyCompanyRating: Decimal | None = None
    taxID: str | None = None
    taxRegionID: int | None = None
    territoryID: int | None = None
    webAddress: str | None = None
    userDefinedFields: list[UserDefinedField] = []


class Contact(AutotaskRecord):
    entity: ClassVar[str] = "Contacts"

    additionalAddressInformation: str | None = None
    addressLine: str | None = None
    addressLine1: str | None = None
    alternatePhone: str | None = None
    apiVendorID: int | None = None
    bulkEmailOptOutTime: UtcDateTime | None = None
    city: str | None = None
    companyID: int | None = None
    companyLocationID: int | None = None
    countryID: int | None = None
    createDate: UtcDateTime | None = None
    emailAddress: str | None = None
    emailAddress2: str | None = None
    emailAddress3: str | None = None
    extension: str | None = None
    externalID: str | None = None
    facebookUrl: str | None = None
    faxNumber: str | None = None
    firstName: str | None = None
    impersonatorCreatorResourceID: int | None = None
    isActive: int | None = None
    isOptedOutFromBulkEmail: bool | None = None
    lastActivityDate: UtcDateTime | None = None
    lastModifiedDate: UtcDateTime | None = None
    lastName: str | None = None
    linkedInUrl: str | None = None
    middleInitial: str | None = None
    mobilePhone: str | None = None
    namePrefix: int | None = None
    nameSuffix: int | None = None
    note: str | None = None
    receivesEmailNotifications: bool | None = None
    phone: str | None = None
    primaryContact: bool | None = None
    billingContact: bool | None = None
    roomNumber: str | None = None
    solicitationOptOut: bool | None = None
    solicitationOptOutTime: UtcDateTime | None = None
    state: str | None = None
    surveyOptOut: bool | None = None
    title: str | None = None
    twitterUrl: str | None = None
    zipCode: str | None = None
    userDefinedFields: list[UserDefinedField] = []


class CompanyLocation(AutotaskRecord):
    entity: ClassVar[str] = "CompanyLocations"

    address1: str | None = None
    address2: str | None = None
    alternatePhone1: str | None = None
    alternatePhone2: str | None = None
    city: str | None = None
    companyID: int | None = None
    countryID: int | None = None
    description: str | None = None
    fax: str | None = None
    isActive: bool | None = None
    isPrimary: bool | None = None
    isTaxExempt: bool | None = None
    overrideCompanyTaxSettings: bool | None = None
    name: str | None = None
    phone: str | None = None
    postalCode: str | None = None
    roundtripDistance: Decimal | None = None
    state: str | None = None
    taxRegionID: int | None = None


class BillingCode(AutotaskRecord):
    entity: ClassVar[str] = "BillingCodes"

    afterHoursWorkType: int | None = None
    billingCodeType: int | None = None
    department: int | None = None
    description: str | None = None
    externalNumber: str | None = None
    generalLedgerAccount: int | None = None
    isActive: bool | None = None
    isExcludedFromNewContracts: bool | None = None
    markupRate: Decimal | None = None
    name: str | None = None
    taxCategoryID: int | None = None
    unitCost: Decimal | None = None
    unitPrice: Decimal | None = None
    useType: int | None = None


class TaxRegion(AutotaskRecord):
    entity: ClassVar[str] = "TaxRegions"

    isActive: bool | None = None
    name: str | None = None


class TaxCategory(AutotaskRecord):
    entity: ClassVar[str] = "TaxCategories"

    description: str | None = None
    isActive: bool | None = None
    name: str | None = None


class Tax(AutotaskRecord):
    entity: ClassVar[str] = "Taxes"

    isCompounded: bool | None = None
    taxCategoryID: int | None = None
    taxName: str | None = None
    taxRate: Decimal | None = None
    taxRegionID: int | None = None


class Currency(AutotaskRecord):
    entity: ClassVar[str] = "Currencies"

    currencyNegativeFormat: str | None = None
    currencyPositiveFormat: str | None = None
    description: str | None = None
    displaySymbol: int | None = None
    exchangeRate: Decimal | None = None
    isActive: bool | None = None
    isInternalCurrency: bool | None = None
    lastModifiedDateTime: UtcDateTime | None = None
    name: str | None = None
    updateResourceId: int | None = None


class OrganizationalLevel1(AutotaskRecord):
    entity: ClassVar[str] = "OrganizationalLevel1s"

    description: str | None = None
    isActive: bool | None = None
    name: str | None = None


class OrganizationalLevel2(AutotaskRecord):
    entity: ClassVar[str] = "OrganizationalLevel2s"

    description: str | None = None
    isActive: bool | None = None
    name: str | None = None


class OrganizationalLevelAssociation(AutotaskRecord):
    entity: ClassVar[str] = "OrganizationalLevelAssociations"

    isActive: bool | None = None
    organizationalLevel1ID: int | None = None
    organizationalLevel2ID: int | None = None


class InvoiceTemplate(AutotaskRecord):
    entity: ClassVar[str] = "InvoiceTemplates"

    coveredByBlockRetainerContractLabel: str | None = None
    coveredByRecurringServiceFixedPricePerTicketContractLabel: str | None = None
    currencyNegativeFormat: str | None = None
    currencyPositiveFormat: str | None = None
    dateFormat: int | None = None
    displayFixedPriceContractLabor: bool | None = None
    displayRecurringServiceContractLabor: bool | None = None
    displaySeparateLineItemForEachTax: bool | None = None
    displayTaxCategory: bool | None = None
    displayTaxCategorySuperscripts: bool | None = None
    displayZeroAmountRecurringServicesAndBundles: bool | None = None
    groupBy: int | None = None
    itemizeItemsInEachGroup: int | None = None
    itemizeServicesAndBundles: bool | None = None
    name: str | None = None
    nonBillableLaborLabel: str | None = None
    numberFormat: int | None = None
    pageLayout: int | None = None
    pageNumberFormat: int | None = None
    paymentTerms: int | None = None
    rateCostExpression: str | None = None
    showGridHeader: bool | None = None
    showVerticalGridLines: bool | None = None
    sortBy: int | None = None
    timeFormat: int | None = None


class PaymentTerm(AutotaskRecord):
    entity: ClassVar[str] = "PaymentTerms"

    description: str | None = None
    isActive: bool | None = None
    name: str | None = None
    paymentDueInDays: int | None = None


class Product(AutotaskRecord):
    entity: ClassVar[str] = "Products"

    billingType: int | None = None
    chargeBillingCodeID: int | None = None
    createdByResourceID: int | None = None
    createdTime: UtcDateTime | None = None
    defaultVendorID: int | None = None
    description: str | None = None
    doesNotRequireProcurement: bool | None = None
    externalProductID: str | None = None
    impersonatorCreatorResourceID: int | None = None
    internalProductID: str | None = None
    isActive: bool | None = None
    isEligibleForRma: bool | None = None
    isSerialized: bool | None = None
    link: str | None = None
    manufacturerName: str | None = None
    manufacturerProductName: str | None = None
    markupRate: Decimal | None = None
    msrp: Decimal | None = None
    name: str | None = None
    periodType: int | None = None
    priceCostMethod: int | None = None
    productBillingCodeID: int | None = None
    productCategory: int | None = None
    sku: str | None = None
    unitCost: Decimal | None = None
    unitPrice: Decimal | None = None
    vendorProductNumber: str | None = None
    defaultInstalledProductCategoryID: int | None = None
    userDefinedFields: list[UserDefinedField] = []


class Service(AutotaskRecord):
    entity: ClassVar[str] = "Services"

    billingCodeID: int | None = None
    createDate: UtcDateTime | None = None
    creatorResourceID: int | None = None
    description: str | None = None
    invoiceDescription: str | None = None
    isActive: bool | None = None
    lastModifiedDate: UtcDateTime | None = None
    markupRate: Decimal | None = None
    name: str | None = None
    periodType: int | None = None
    serviceLevelAgreementID: int | None = None
    unitCost: Decimal | None = None
    unitPrice: Decimal | None = None
    updateResourceID: int | None = None
    vendorCompanyID: int | None = None
    manufacturerServiceProvider: str | None = None
    manufacturerServiceProviderProductNumber: str | None = None
    catalogNumberPartNumber: str | None = None
    sku: str | None = None
    internalID: str | None = None
    externalID: str | None = None
    url: str | None = None
    userDefinedFields: list[UserDefinedField] = []


class ServiceBundle(AutotaskRecord):
    entity: ClassVar[str] = "ServiceBundles"

    billingCodeID: int | None = None
    createDate: UtcDateTime | None = None
    creatorResourceID: int | None = None
    description: str | None = None
    invoiceDescription: str | None = None
    isActive: bool | None = None
    lastModifiedDate: UtcDateTime | None = None
    name: str | None = None
    percentageDiscount: Decimal | None = None
    periodType: int | None = None
    serviceLevelAgreementID: int | None = None
    unitCost: Decimal | None = None
    unitDiscount: Decimal | None = None
    unitPrice: Decimal | None = None
    updateResourceID: int | None = None
    manufacturerServiceProvider: str | None = None
    manufacturerServiceProviderProductNumber: str | None = None
    catalogNumberPartNumber: str | None = None
    sku: str | None = None
    internalID: str | None = None
    externalID: str | None = None
    url: str | None = None
    userDefinedFields: list[UserDefinedField] = []
