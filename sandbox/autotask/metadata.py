"""``entityInformation``, ``entityInformation/fields`` and ``…/userDefinedFields`` answers.

Derived from the Swagger model: the real service reports read-only flags and picklists that the
Swagger lacks (reference §4), so the sandbox marks every field read-only except the ones it lets a
PATCH change, and a field is a picklist only when a test or the seed gave it values
(``AutotaskService.set_picklist``).
"""

from __future__ import annotations

from typing import Any

from sandbox.autotask.schema import FIELD_LENGTHS, UDF_PROPERTY, Entity

Record = dict[str, Any]


def field_information(
    entity: Entity, picklists: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for name, kind in entity.kinds.items():
        if name == UDF_PROPERTY:
            continue  # UDFs are described by entityInformation/userDefinedFields
        values = picklists.get(name)
        fields.append(
            {
                "name": name,
                "dataType": kind,
                "length": FIELD_LENGTHS.get((entity.name, name), 0),
                "isRequired": name == "id",
                "isReadOnly": name not in entity.updatable,
                "isQueryable": entity.is_queryable(name),
                "isReference": False,
                "referenceEntityType": "",
                "isPickList": values is not None,
                "picklistValues": values if values is not None else None,
                "picklistParentValueField": "",
                "isSupportedWebhookField": False,
            }
        )
    return fields


def entity_information(entity: Entity) -> dict[str, Any]:
    return {
        "name": entity.internal_name,
        "canCreate": False,
        "canDelete": False,
        "canQuery": True,
        "canUpdate": bool(entity.updatable),
        "userAccessForCreate": "None",
        "userAccessForDelete": "None",
        "userAccessForQuery": "All",
        "userAccessForUpdate": "All" if entity.updatable else "None",
        "hasUserDefinedFields": entity.has_udfs,
        "supportsWebhookCallouts": entity.name in ("Companies", "Contacts"),
    }


def udf_information(entity: Entity, records: list[Record]) -> list[dict[str, Any]]:
    """One definition per UDF name found on the entity's records (all text UDFs)."""
    if not entity.has_udfs:
        return []
    names: list[str] = []
    for record in records:
        for udf in record.get(UDF_PROPERTY) or []:
            name = udf.get("name")
            if isinstance(name, str) and name not in names:
                names.append(name)
    return [
        {
            "name": name,
            "label": name,
            "type": "string",
            "length": 8000,
            "isRequired": False,
            "isReadOnly": False,
            "isQueryable": True,
            "isReference": False,
            "isPickList": False,
            "picklistValues": None,
        }
        for name in names
    ]
