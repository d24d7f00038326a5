"""The workflow SQL customisation node (12): one statement the node's author writes against the
node's bound memory table, by the table's and fields' own names. It is parsed (sqlglot) and
rewritten before it runs: it must be one SELECT, INSERT ... VALUES, UPDATE or DELETE; every table
it names must be the bound table and every column one of its fields (or system fields); functions
must be ones SQL knows (no extensions, no files). Names become the physical table and columns, a
per-user table is narrowed to the run owner's rows, `{{input}}` templates become bound
parameters, and inserted rows get their id, time and owner. Row counts stay right."""

from __future__ import annotations

import re

import sqlglot
from peewee import SqliteDatabase
from sqlglot import exp

from core import errors
from core.ids import new_id
from models.db import db, run_db, write_transaction
from models.memory import RW_PER_USER
from services import memory_rows
from services import workflow_canvas as wc
from services.workflow_database import MAX_QUERY_ROWS, BoundTable, writable
from services.workflow_engine import NodeError, Outcome, Run, handles

_PARAMETER = re.compile(r"'?\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}'?")
STATEMENTS = (exp.Select, exp.Insert, exp.Update, exp.Delete)
MAX_SQL = 10_000


def _bind(sql: str, inputs: dict) -> tuple[str, list]:
    """The statement with each {{name}} (quoted or not) as a `?` and the values in order."""
    values: list = []

    def place(match: re.Match) -> str:
        found = (
            wc.render("{{" + match.group(1) + "}}", inputs)
            if "." in match.group(1)
            else inputs.get(match.group(1))
        )
        values.append(found if isinstance(found, str | int | float) or found is None else str(found))
        return "?"

    return _PARAMETER.sub(place, sql), values


class Rewriter:
    def __init__(self, database, model, where: str):
        self.database, self.model, self.where = database, model, where
        self.columns = {f["name"].lower(): f"f{f['id']}" for f in database.fields}
        self.columns.update({name: attribute for name, (attribute, _) in memory_rows.SYSTEM_FIELDS.items()})
        self.names = {physical: name for name, physical in self.columns.items()}
        self.aliases = {database.name.lower()}

    def refuse(self, message: str) -> NodeError:
        return NodeError(f"{self.where}.sql: {message}")

    def check(self, tree: exp.Expression) -> None:
        for table in tree.find_all(exp.Table):
            if (
                table.args.get("db")
                or table.args.get("catalog")
                or table.name.lower() != self.database.name.lower()
            ):
                raise self.refuse(
                    f"only the bound table {self.database.name} may be named, not {table.sql()!r}"
                )
            if table.alias:
                self.aliases.add(table.alias.lower())
        for function in tree.find_all(exp.Anonymous):
            raise self.refuse(f"unknown function {function.name}()")
        for node in tree.find_all(exp.Command, exp.Pragma):
            raise self.refuse(f"{node.sql()[:40]!r} is not allowed")
        for column in tree.find_all(exp.Column):
            if column.table and column.table.lower() not in self.aliases:
                raise self.refuse(f"{column.sql()!r} names another table")
            if column.name.lower() not in self.columns:
                known = ", ".join(f["name"] for f in self.database.fields)
                raise self.refuse(f"no field {column.name!r} in table {self.database.name} ({known})")

    def rename(self, tree: exp.Expression, scope: memory_rows.Scope | None) -> exp.Expression:
        physical = self.model._meta.table_name

        def change(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column):
                return exp.column(self.columns[node.name.lower()], table=node.table or None, quoted=True)
            if isinstance(node, exp.Identifier) and isinstance(node.parent, exp.Schema):
                return exp.to_identifier(self.columns[node.name.lower()], quoted=True)
            if isinstance(node, exp.Table):
                alias = node.alias or self.database.name
                if scope is not None and isinstance(tree, exp.Select):
                    narrowed = exp.select("*").from_(exp.to_table(physical, quoted=True)).where(_owner(scope))
                    return narrowed.subquery(alias)
                return exp.Table(
                    this=exp.to_identifier(physical, quoted=True),
                    alias=exp.to_identifier(node.alias) if node.alias else None,
                )
            return node

        renamed = tree.transform(change)
        if scope is not None and isinstance(renamed, exp.Update | exp.Delete):
            condition = renamed.args.get("where")
            owner = _owner(scope)
            renamed.set("where", exp.Where(this=exp.and_(condition.this, owner) if condition else owner))
        return renamed


def _owner(scope: memory_rows.Scope) -> exp.Expression:
    return exp.and_(
        exp.column("connector_uid", quoted=True).eq(exp.Literal.string(scope.connector_uid or "")),
        exp.column("connector_id", quoted=True).eq(exp.Literal.number(int(scope.connector_id or 0))),
    )


PARAMETER_MARK = "__cozeplus_parameter__"


def _text(tree: exp.Expression) -> str:
    """The statement for this database's driver: `?` for SQLite; for psycopg2 `%s`, with every
    other `%` (in LIKE patterns, say) doubled."""
    if isinstance(db.obj, SqliteDatabase):
        return tree.sql(dialect="sqlite")
    marked = tree.transform(
        lambda node: exp.var(PARAMETER_MARK) if isinstance(node, exp.Placeholder) else node
    )
    return marked.sql(dialect="postgres").replace("%", "%%").replace(PARAMETER_MARK, "%s")


def _stamp_inserts(tree: exp.Insert, owner: memory_rows.Scope, where: str) -> int:
    """Give each inserted row its id, creation time and owner; the number of rows."""
    values = tree.expression
    if not isinstance(values, exp.Values) or not isinstance(tree.this, exp.Schema):
        raise NodeError(f"{where}.sql: INSERT names its columns and gives VALUES")
    tree.this.expressions.extend(
        exp.to_identifier(name) for name in ("id", "created_at", "connector_uid", "connector_id")
    )
    created = memory_rows.now_text()
    for row in values.expressions:
        row.expressions.extend(
            [
                exp.Literal.number(new_id()),
                exp.Literal.string(created),
                exp.Literal.string(owner.connector_uid or ""),
                exp.Literal.number(int(owner.connector_id or 0)),
            ]
        )
    return len(values.expressions)


@handles(wc.CUSTOM_SQL)
async def custom_sql_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    table = BoundTable(node, run)
    text = str(node.inputs.get("sql") or "").strip()
    if not text or len(text) > MAX_SQL:
        raise NodeError(f"{table.where}.sql: one statement of at most {MAX_SQL} characters")
    sql, values = _bind(text, inputs)
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise NodeError(f"{table.where}.sql: not SQL ({str(exc).splitlines()[0][:200]})")
    if len(statements) != 1 or not isinstance(statements[0], STATEMENTS):
        raise NodeError(f"{table.where}.sql: one SELECT, INSERT, UPDATE or DELETE statement")
    tree = statements[0]

    def execute():
        database, rows, scope = table.load()
        rewriter = Rewriter(database, rows.model, table.where)
        rewriter.check(tree)
        narrowed = scope if database.rw_mode == RW_PER_USER else None
        changed = rewriter.rename(tree, narrowed)
        if not isinstance(tree, exp.Select):
            writable(database, table.where)
        inserting = (
            _stamp_inserts(changed, table.owner, table.where) if isinstance(changed, exp.Insert) else 0
        )
        statement = _text(changed)
        with write_transaction():
            if inserting and not rows.take_room(inserting):
                raise errors.DATABASE_ROW_LIMIT(f"{table.where}: table {database.name} is full")
            try:
                cursor = db.execute_sql(statement, values)
            except Exception as exc:  # the statement is the author's: its failure is the node's
                raise NodeError(f"{table.where}.sql: {str(exc).splitlines()[0][:300]}")
            if isinstance(tree, exp.Select):
                names = [rewriter.names.get(c[0], c[0]) for c in cursor.description]
                found = [dict(zip(names, r)) for r in cursor.fetchmany(MAX_QUERY_ROWS)]
                return found, len(found)
            if isinstance(tree, exp.Delete):
                rows.give_back(max(cursor.rowcount, 0))
            return [], max(cursor.rowcount, 0)

    found, count = await run_db(execute)
    return Outcome({"outputList": found, "rowNum": count})
