"""Reading the audit log (core/audit records it): administrators only, filtered, newest first."""

from __future__ import annotations

from peewee import OP, Expression, Value

from core import errors
from core.authz import require
from core.ids import parse_id
from models import paging
from models.audit import AuditEntry
from models.identity import User


def _id_filter(raw, field: str) -> int:
    number = parse_id(raw)
    if number is None:
        raise errors.PERMISSION_INVALID_PARAM(f"{field}: not an id")
    return number


def entries(admin: User, filters: dict, page: int = 1, size: int = 20):
    require(admin, "audit:read")
    query = AuditEntry.select()
    if filters.get("actor_id") is not None:
        query = query.where(AuditEntry.actor_id == _id_filter(filters["actor_id"], "actor_id"))
    if filters.get("space_id") is not None:
        query = query.where(AuditEntry.space_id == _id_filter(filters["space_id"], "space_id"))
    if filters.get("operation"):
        query = query.where(AuditEntry.operation == filters["operation"])
    if filters.get("resource_type"):
        query = query.where(AuditEntry.resource_type == filters["resource_type"])
    if filters.get("resource_id"):  # stored as a JSON list of strings: match one whole item
        wanted = str(filters["resource_id"]).replace("\\", "").replace('"', "")
        pattern = Value(f'%"{wanted}"%', converter=False)  # not JSON-encoded as the field's values are
        query = query.where(Expression(AuditEntry.resource_ids, OP.ILIKE, pattern))
    if filters.get("outcome") == "success":
        query = query.where(AuditEntry.status.between(200, 299))
    elif filters.get("outcome") == "failure":
        query = query.where((AuditEntry.status < 200) | (AuditEntry.status > 299))
    if filters.get("since") is not None:
        query = query.where(AuditEntry.created_at >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(AuditEntry.created_at < filters["until"])
    listed = paging.page(query.order_by(AuditEntry.id.desc()), page, size, total=True)
    return listed.rows, listed.total
