"""The Bitrix24 REST client (issue 2 item 5): ``B24Client`` and its error tree.

Usage::

    client = B24Client.for_installation(member_id, app.config)
    client.call("crm.item.get", {"entityTypeId": 1030, "id": 5})
    client.batch({"d5": ("crm.item.get", {"entityTypeId": 2, "id": 5})})
    client.list_all("crm.item.list", {"entityTypeId": 1030, "filter": {...}, "select": ["id"]})
"""

from b24app.rest.client import B24Client
from b24app.rest.codec import BatchResult, Response
from b24app.rest.errors import (
    AccessDenied,
    AuthError,
    B24Error,
    BadRequest,
    MethodNotFound,
    NotFound,
    OperationTimeLimit,
    Overloaded,
    RateLimited,
    ReauthRequired,
    ServerError,
    TransportError,
)

__all__ = [
    "AccessDenied", "AuthError", "B24Client", "B24Error", "BadRequest", "BatchResult", "MethodNotFound",
    "NotFound", "OperationTimeLimit", "Overloaded", "RateLimited", "ReauthRequired", "Response",
    "ServerError", "TransportError",
]
