"""im.notify.system.add (api-reference/chats/notifications/im-notify-system-add.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24sandbox import errors
from b24sandbox.auth import AuthContext
from b24sandbox.methods import method, param
from b24sandbox.wire import as_int, now_iso

if TYPE_CHECKING:
    from b24sandbox.portal import Portal


@method("im.notify.system.add", scope="im")
def notify_system_add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    user_id = as_int(param(params, "USER_ID", "user_id"))
    message = param(params, "MESSAGE", "message")
    if not user_id or portal.user(user_id) is None:
        raise errors.RestError("USER_ID_EMPTY", "Recipient ID not specified", 400)
    if not message:
        raise errors.RestError("MESSAGE_EMPTY", "Message text is empty", 400)
    new_id = portal.store.next_id("notification")
    portal.store.put("notifications", {"id": new_id, "user_id": user_id}, {
        "id": new_id, "user_id": user_id, "message": str(message), "tag": param(params, "TAG", "tag"),
        "from_app": ctx.client_id, "created": now_iso()})
    return new_id
