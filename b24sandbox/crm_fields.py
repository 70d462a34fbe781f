"""Field descriptions of CRM items: camelCase names, UPPER names, types, and user-field naming.

api-reference/crm/universal/object-fields.md; crm-item-fields.md; api-reference/crm/universal/index.md
(camelCase rules for ``UF_CRM_*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEAL, CONTACT, COMPANY = 2, 3, 4
SYSTEM_TYPES = {DEAL: "DEAL", CONTACT: "CONTACT", COMPANY: "COMPANY"}
UF_ENTITY_IDS = {"CRM_DEAL": DEAL, "CRM_CONTACT": CONTACT, "CRM_COMPANY": COMPANY}


@dataclass(frozen=True)
class Field:
    name: str                   # camelCase (crm.item)
    type: str                   # integer, double, string, boolean, date, datetime, user, crm_status, ...
    upper: str                  # crm.deal.* / crm.item.fields upperName
    read_only: bool = False
    multiple: bool = False
    flag: str | None = None     # SPA type flag that enables the field
    title: str = ""


def _f(name: str, type_: str, upper: str, **kw: object) -> Field:
    return Field(name, type_, upper, **kw)  # type: ignore[arg-type]


COMMON_HEAD = [
    _f("id", "integer", "ID", read_only=True, title="ID"),
]
AUDIT = [
    _f("assignedById", "user", "ASSIGNED_BY_ID", title="Responsible"),
    _f("createdBy", "user", "CREATED_BY_ID", read_only=True, title="Created by"),
    _f("updatedBy", "user", "MODIFY_BY_ID", read_only=True, title="Modified by"),
    _f("createdTime", "datetime", "DATE_CREATE", read_only=True, title="Created on"),
    _f("updatedTime", "datetime", "DATE_MODIFY", read_only=True, title="Modified on"),
    _f("lastActivityBy", "user", "LAST_ACTIVITY_BY", read_only=True, title="Last activity by"),
    _f("lastActivityTime", "datetime", "LAST_ACTIVITY_TIME", read_only=True, title="Last activity"),
    _f("observers", "user", "OBSERVER", multiple=True, title="Observers"),
]

DEAL_FIELDS = COMMON_HEAD + [
    _f("title", "string", "TITLE", title="Name"),
    _f("typeId", "crm_status", "TYPE_ID", title="Type"),
    _f("categoryId", "crm_category", "CATEGORY_ID", title="Pipeline"),
    _f("stageId", "crm_status", "STAGE_ID", title="Stage"),
    _f("stageSemanticId", "string", "STAGE_SEMANTIC_ID", read_only=True, title="Stage group"),
    _f("isNew", "boolean", "IS_NEW", read_only=True, title="New deal"),
    _f("isRecurring", "boolean", "IS_RECURRING", title="Recurring deal"),
    _f("isReturnCustomer", "boolean", "IS_RETURN_CUSTOMER", read_only=True, title="Repeat deal"),
    _f("isRepeatedApproach", "boolean", "IS_REPEATED_APPROACH", read_only=True, title="Repeated inquiry"),
    _f("closed", "boolean", "CLOSED", title="Closed"),
    _f("probability", "integer", "PROBABILITY", title="Probability"),
    _f("opportunity", "double", "OPPORTUNITY", title="Amount"),
    _f("isManualOpportunity", "boolean", "IS_MANUAL_OPPORTUNITY", title="Manual amount"),
    _f("taxValue", "double", "TAX_VALUE", title="Tax"),
    _f("currencyId", "crm_currency", "CURRENCY_ID", title="Currency"),
    _f("companyId", "crm_company", "COMPANY_ID", title="Company"),
    _f("contactId", "crm_contact", "CONTACT_ID", title="Contact"),
    _f("contactIds", "crm_contact", "CONTACT_IDS", multiple=True, title="Contacts"),
    _f("quoteId", "crm_quote", "QUOTE_ID", title="Estimate"),
    _f("leadId", "crm_lead", "LEAD_ID", title="Lead"),
    _f("begindate", "date", "BEGINDATE", title="Start date"),
    _f("closedate", "date", "CLOSEDATE", title="Close date"),
    _f("opened", "boolean", "OPENED", title="Available to everyone"),
    _f("comments", "text", "COMMENTS", title="Comment"),
    _f("movedBy", "user", "MOVED_BY_ID", read_only=True, title="Moved by"),
    _f("movedTime", "datetime", "MOVED_TIME", read_only=True, title="Moved on"),
    _f("sourceId", "crm_status", "SOURCE_ID", title="Source"),
    _f("sourceDescription", "text", "SOURCE_DESCRIPTION", title="Source information"),
    _f("additionalInfo", "string", "ADDITIONAL_INFO", title="Additional information"),
    _f("originatorId", "string", "ORIGINATOR_ID", title="External source"),
    _f("originId", "string", "ORIGIN_ID", title="External id"),
    _f("utmSource", "string", "UTM_SOURCE", title="Ad system"),
    _f("utmMedium", "string", "UTM_MEDIUM", title="Traffic type"),
    _f("utmCampaign", "string", "UTM_CAMPAIGN", title="Ad campaign UTM"),
    _f("utmContent", "string", "UTM_CONTENT", title="Campaign contents"),
    _f("utmTerm", "string", "UTM_TERM", title="Campaign search term"),
] + AUDIT

CONTACT_FIELDS = COMMON_HEAD + [
    _f("honorific", "crm_status", "HONORIFIC", title="Salutation"),
    _f("name", "string", "NAME", title="First name"),
    _f("secondName", "string", "SECOND_NAME", title="Second name"),
    _f("lastName", "string", "LAST_NAME", title="Last name"),
    _f("birthdate", "date", "BIRTHDATE", title="Date of birth"),
    _f("typeId", "crm_status", "TYPE_ID", title="Contact type"),
    _f("sourceId", "crm_status", "SOURCE_ID", title="Source"),
    _f("sourceDescription", "text", "SOURCE_DESCRIPTION", title="Source information"),
    _f("post", "string", "POST", title="Position"),
    _f("comments", "text", "COMMENTS", title="Comment"),
    _f("opened", "boolean", "OPENED", title="Available to everyone"),
    _f("export", "boolean", "EXPORT", title="Included in export"),
    _f("hasPhone", "boolean", "HAS_PHONE", read_only=True, title="Has phone"),
    _f("hasEmail", "boolean", "HAS_EMAIL", read_only=True, title="Has e-mail"),
    _f("hasImol", "boolean", "HAS_IMOL", read_only=True, title="Has Open Channel"),
    _f("companyId", "crm_company", "COMPANY_ID", title="Company"),
    _f("companyIds", "crm_company", "COMPANY_IDS", multiple=True, title="Companies"),
    _f("leadId", "crm_lead", "LEAD_ID", title="Lead"),
    _f("originatorId", "string", "ORIGINATOR_ID", title="External source"),
    _f("originId", "string", "ORIGIN_ID", title="External id"),
] + AUDIT

COMPANY_FIELDS = COMMON_HEAD + [
    _f("title", "string", "TITLE", title="Company name"),
    _f("typeId", "crm_status", "COMPANY_TYPE", title="Company type"),
    _f("industry", "crm_status", "INDUSTRY", title="Industry"),
    _f("employees", "crm_status", "EMPLOYEES", title="Employees"),
    _f("currencyId", "crm_currency", "CURRENCY_ID", title="Currency"),
    _f("revenue", "double", "REVENUE", title="Annual revenue"),
    _f("opened", "boolean", "OPENED", title="Available to everyone"),
    _f("comments", "text", "COMMENTS", title="Comment"),
    _f("hasPhone", "boolean", "HAS_PHONE", read_only=True, title="Has phone"),
    _f("hasEmail", "boolean", "HAS_EMAIL", read_only=True, title="Has e-mail"),
    _f("hasImol", "boolean", "HAS_IMOL", read_only=True, title="Has Open Channel"),
    _f("isMyCompany", "boolean", "IS_MY_COMPANY", title="My company"),
    _f("contactIds", "crm_contact", "CONTACT_IDS", multiple=True, title="Contacts"),
    _f("leadId", "crm_lead", "LEAD_ID", title="Lead"),
    _f("originatorId", "string", "ORIGINATOR_ID", title="External source"),
    _f("originId", "string", "ORIGIN_ID", title="External id"),
] + AUDIT

DYNAMIC_FIELDS = COMMON_HEAD + [
    _f("xmlId", "string", "XML_ID", title="External ID"),
    _f("title", "string", "TITLE", title="Name"),
    _f("categoryId", "crm_category", "CATEGORY_ID", title="Pipeline"),
    _f("stageId", "crm_status", "STAGE_ID", title="Stage"),
    _f("previousStageId", "crm_status", "PREVIOUS_STAGE_ID", read_only=True, title="Previous stage"),
    _f("begindate", "date", "BEGINDATE", flag="isBeginCloseDatesEnabled", title="Start date"),
    _f("closedate", "date", "CLOSEDATE", flag="isBeginCloseDatesEnabled", title="End date"),
    _f("companyId", "crm_company", "COMPANY_ID", flag="isClientEnabled", title="Company"),
    _f("contactId", "crm_contact", "CONTACT_ID", flag="isClientEnabled", title="Contact"),
    _f("contactIds", "crm_contact", "CONTACT_IDS", multiple=True, flag="isClientEnabled", title="Contacts"),
    _f("opportunity", "double", "OPPORTUNITY", flag="isLinkWithProductsEnabled", title="Amount"),
    _f("isManualOpportunity", "boolean", "IS_MANUAL_OPPORTUNITY", flag="isLinkWithProductsEnabled",
       title="Manual amount"),
    _f("taxValue", "double", "TAX_VALUE", flag="isLinkWithProductsEnabled", title="Tax"),
    _f("currencyId", "crm_currency", "CURRENCY_ID", flag="isLinkWithProductsEnabled", title="Currency"),
    _f("mycompanyId", "crm_company", "MYCOMPANY_ID", flag="isMycompanyEnabled", title="Your company details"),
    _f("sourceId", "crm_status", "SOURCE_ID", flag="isSourceEnabled", title="Source"),
    _f("sourceDescription", "text", "SOURCE_DESCRIPTION", flag="isSourceEnabled", title="Source information"),
    _f("opened", "boolean", "OPENED", title="Available to everyone"),
    _f("webformId", "integer", "WEBFORM_ID", read_only=True, title="Created by CRM form"),
    _f("movedBy", "user", "MOVED_BY", read_only=True, title="Moved by"),
    _f("movedTime", "datetime", "MOVED_TIME", read_only=True, title="Moved on"),
] + AUDIT

BASE_FIELDS = {DEAL: DEAL_FIELDS, CONTACT: CONTACT_FIELDS, COMPANY: COMPANY_FIELDS}
MULTIFIELD_TYPES = ("PHONE", "EMAIL", "WEB", "IM")


def base_fields(entity_type_id: int) -> list[Field]:
    return BASE_FIELDS.get(entity_type_id, DYNAMIC_FIELDS)


def uf_prefix(entity_id: str) -> str:
    """``CRM_13`` -> ``UF_CRM_13_``; ``CRM_DEAL`` -> ``UF_CRM_``."""
    if entity_id in UF_ENTITY_IDS:
        return "UF_CRM_"
    return f"UF_{entity_id}_"


def uf_camel(field_name: str, entity_id: str) -> str:
    """The REST camelCase name of a user field (api-reference/crm/universal/index.md table)."""
    prefix = uf_prefix(entity_id)
    fallback = "ufCrm_" + field_name[len("UF_CRM_"):]
    if not field_name.startswith(prefix):
        return fallback
    head = "ufCrm" + prefix[len("UF_CRM_"):].rstrip("_")
    parts = field_name[len(prefix):].split("_")
    if all(p.isalpha() for p in parts):
        return head + "".join(p.capitalize() for p in parts)
    if all(p.isdigit() for p in parts):
        return head + "_" + "_".join(parts)
    return fallback


_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")


def upper_of(name: str) -> str:
    """``parentId156`` -> ``PARENT_ID_156``; generic camelCase -> UPPER_SNAKE; an UPPER_CASE name stays."""
    if name == name.upper():
        return name
    match = re.fullmatch(r"parentId(\d+)", name)
    if match:
        return f"PARENT_ID_{match.group(1)}"
    return _CAMEL_RE.sub("_", name).upper()
