"""Workflow Database nodes on the space's memory tables (services/memory_rows): query (43), add
(46), update (42) and delete (44) rows. A node names its table by id (databaseInfoList), looked up
through the ownership check as the run's owner; a test run works on the table's draft copy, a
published run on its online copy, as agents do. A per-user table holds the run owner's rows."""

from __future__ import annotations

from core import errors
from models.db import run_db, write_transaction
from models.memory import DRAFT, ONLINE, RW_PER_USER, RW_READ_ONLY, MemoryDatabase
from services import memory, memory_rows
from services import workflow_canvas as wc
from services.memory_rows import Scope
from services.workflow_engine import NodeError, Outcome, Run, handles

UPDATE, QUERY, DELETE, INSERT = "42", "43", "44", "46"
MAX_QUERY_ROWS = 1000
# Coze's condition operations, by the names its canvas uses
OPERATIONS = {
    "EQUAL": memory_rows.EQUAL,
    "NOT_EQUAL": memory_rows.NOT_EQUAL,
    "GREATER_THAN": memory_rows.GREATER,
    "LESS_THAN": memory_rows.LESS,
    "GREATER_EQUAL": memory_rows.GREATER_EQUAL,
    "LESS_EQUAL": memory_rows.LESS_EQUAL,
    "IN": memory_rows.IN,
    "NOT_IN": memory_rows.NOT_IN,
    "IS_NULL": memory_rows.IS_NULL,
    "IS_NOT_NULL": memory_rows.IS_NOT_NULL,
    "LIKE": memory_rows.LIKE,
    "NOT_LIKE": memory_rows.NOT_LIKE,
}


class BoundTable:
    """The node's table as the run sees it: which copy, whose rows."""

    def __init__(self, node: wc.Node, run: Run):
        self.node, self.run = node, run
        self.where = f"node {node.id} ({node.title})"
        user = run.context.get("user")
        if user is None:
            raise NodeError(f"{self.where}: runs only inside a workflow run of a user")
        listed = node.inputs.get("databaseInfoList") or []
        if not listed or not isinstance(listed[0], dict):
            raise NodeError(f"{self.where}.databaseInfoList: names no table")
        self.user, self.table_id = user, listed[0].get("databaseInfoID")
        debug = bool(getattr(run.context.get("run"), "debug", True))
        self.copy = DRAFT if debug else ONLINE
        connector = getattr(run.context.get("run"), "connector_id", None) or 1024
        self.owner = Scope(str(user.id), connector)

    def load(self) -> tuple[MemoryDatabase, memory_rows.Rows, Scope]:
        database = memory.load(self.user, self.table_id, field=f"{self.where}.databaseInfoList")
        scope = self.owner if database.rw_mode == RW_PER_USER else Scope()
        return database, memory_rows.Rows(database, self.copy), scope

    def value(self, block_input: dict, at: str):
        return wc.value_of(block_input or {}, self.run.scope, f"{self.where}.{at}")

    def criterion(self, condition: dict | None) -> dict | None:
        """Coze's conditionList ([[left, operation, right] ...], logic) as memory_rows' filter."""
        clauses = []
        for index, triple in enumerate((condition or {}).get("conditionList") or []):
            parts = {p.get("name"): p.get("input") for p in triple or [] if isinstance(p, dict)}
            at = f"condition.conditionList[{index}]"
            operation = OPERATIONS.get(str(self.value(parts.get("operation"), f"{at}.operation") or ""))
            if operation is None:
                raise NodeError(f"{self.where}.{at}.operation: one of {', '.join(OPERATIONS)}")
            right = self.value(parts.get("right"), f"{at}.right") if parts.get("right") else None
            if isinstance(right, bool):
                right = "true" if right else "false"
            elif isinstance(right, int | float):
                right = str(right)
            clauses.append(
                {"left": self.value(parts.get("left"), f"{at}.left"), "operation": operation, "right": right}
            )
        if not clauses:
            return None
        return {"conditions": clauses, "logic": str((condition or {}).get("logic") or "AND").upper()}

    def record(self, database: MemoryDatabase, pairs, at: str) -> dict:
        """fieldInfo ([[fieldID, fieldValue] ...]) as {field name: value}."""
        names = {str(f["id"]): f["name"] for f in database.fields}
        names.update({f["name"]: f["name"] for f in database.fields})
        found = {}
        for index, pair in enumerate(pairs or []):
            parts = {p.get("name"): p.get("input") for p in pair or [] if isinstance(p, dict)}
            field = str(self.value(parts.get("fieldID"), f"{at}[{index}].fieldID") or "")
            if field not in names:
                raise NodeError(
                    f"{self.where}.{at}[{index}].fieldID: table {database.name} has no field {field}"
                )
            value = self.value(parts.get("fieldValue"), f"{at}[{index}].fieldValue")
            found[names[field]] = value if value is None or isinstance(value, str) else _text(value)
        return found


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def writable(database: MemoryDatabase, where: str) -> None:
    if database.rw_mode == RW_READ_ONLY:
        raise errors.DATABASE_READ_ONLY(f"{where}: table {database.name} is read-only for end users")


@handles(QUERY)
async def query_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    table = BoundTable(node, run)
    select = node.inputs.get("selectParam") or {}

    def query():
        database, rows, scope = table.load()
        by_id = {str(f["id"]): f["name"] for f in database.fields}
        order = [
            {
                "field": by_id.get(str(o.get("fieldID")), str(o.get("fieldID"))),
                "direction": 1 if o.get("isAsc") else 2,
            }
            for o in select.get("orderByList") or []
            if isinstance(o, dict)
        ]
        limit = max(1, min(int(select.get("limit") or 100), MAX_QUERY_ROWS))
        page = rows.list(
            scope, criterion=table.criterion(select.get("condition")), order_by=order, limit=limit
        )
        wanted = [
            by_id[str(f.get("fieldID"))]
            for f in select.get("fieldList") or []
            if str(f.get("fieldID")) in by_id
        ]
        return [{k: r[k] for k in wanted if k in r} if wanted else r for r in page.rows]

    found = await run_db(query)
    return Outcome({"outputList": found, "rowNum": len(found)})


@handles(INSERT)
async def insert_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    table = BoundTable(node, run)

    def insert():
        database, rows, _ = table.load()
        writable(database, table.where)
        record = table.record(
            database, (node.inputs.get("insertParam") or {}).get("fieldInfo"), "insertParam.fieldInfo"
        )
        with write_transaction():
            return rows.insert(table.owner, [record], f"{table.where}.insertParam")

    added = await run_db(insert)
    return Outcome({"outputList": added, "rowNum": len(added)})


@handles(UPDATE)
async def update_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    table = BoundTable(node, run)
    update = node.inputs.get("updateParam") or {}

    def change():
        database, rows, scope = table.load()
        writable(database, table.where)
        values = table.record(database, update.get("fieldInfo"), "updateParam.fieldInfo")
        with write_transaction():
            return rows.update_where(
                scope, table.criterion(update.get("condition")), values, f"{table.where}.updateParam"
            )

    changed = await run_db(change)
    return Outcome({"outputList": [], "rowNum": changed})


@handles(DELETE)
async def delete_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    table = BoundTable(node, run)
    condition = (node.inputs.get("deleteParam") or {}).get("condition")

    def delete():
        database, rows, scope = table.load()
        writable(database, table.where)
        criterion = table.criterion(condition)
        if criterion is None:
            raise NodeError(f"{table.where}.deleteParam.condition: a delete needs a condition")
        with write_transaction():
            return rows.delete_where(scope, criterion, f"{table.where}.deleteParam")

    deleted = await run_db(delete)
    return Outcome({"outputList": [], "rowNum": deleted})
