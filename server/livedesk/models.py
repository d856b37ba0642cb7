"""Every table's model, imported in one place for Alembic and for tests."""

from livedesk.afterstream.models import FollowUpSent
from livedesk.auth.models import Operator, OperatorSession
from livedesk.core.db import Base
from livedesk.customers.models import Customer, CustomerIdentity, CustomerOrder, ImportRun
from livedesk.fulfilment.models import OutboxMessage
from livedesk.ingest.models import InboxEvent, OrderNotice
from livedesk.onair.models import LiveSession, RoomKind, Rundown
from livedesk.ownership.models import PipelineOwner, RoomLease
from livedesk.promotions.models import Campaign, Grant, IdempotencyRecord, PointsEntry
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms.models import (
    AuditEntry,
    Room,
    RoomCart,
    RoomEnterPlatform,
    RoomViewer,
    RoomWindowBucket,
    RoomWindowUser,
)
from livedesk.rulesets.models import RoomRulesEntry, RulesApply, RulesVersion

__all__ = [
    "AuditEntry",
    "Base",
    "Campaign",
    "Customer",
    "CustomerIdentity",
    "CustomerOrder",
    "FollowUpSent",
    "Grant",
    "IdempotencyRecord",
    "ImportRun",
    "InboxEvent",
    "LiveSession",
    "Operator",
    "OperatorSession",
    "OrderNotice",
    "OutboxMessage",
    "PipelineOwner",
    "PointsEntry",
    "Room",
    "RoomCart",
    "RoomEnterPlatform",
    "RoomKind",
    "RoomLease",
    "RoomLogEntry",
    "RoomRulesEntry",
    "RoomViewer",
    "RoomWindowBucket",
    "RoomWindowUser",
    "RulesApply",
    "RulesVersion",
    "Rundown",
]
