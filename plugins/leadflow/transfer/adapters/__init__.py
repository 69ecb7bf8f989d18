"""Sales-system adapters behind one small interface (``leadflow.transfer.adapters.base``)."""

from __future__ import annotations

from typing import Any


def adapter_for(definition: Any, conn: Any) -> Any:
    """The adapter a transfer definition names, built from its Airflow connection."""
    if definition.adapter == "salesforce":
        from leadflow.transfer.adapters.salesforce import SalesforceAdapter

        return SalesforceAdapter.from_connection(
            conn, external_id_field=definition.external_id_field, max_api_share=definition.max_api_share
        )
    if definition.adapter == "hubspot":
        from leadflow.transfer.adapters.hubspot import HubSpotAdapter

        return HubSpotAdapter.from_connection(conn, id_property=definition.external_id_field)
    from leadflow.transfer.adapters.webhook import WebhookAdapter

    return WebhookAdapter.from_connection(conn)
