"""Memory databases on a 1,000,000-row table: row inserts per second and filtered-query latency
through the API, against the same statements written directly against the database, in the same
run (alternating rounds), on SQLite or PostgreSQL.

    python -m bench.memory [--rows 1000000] [--rounds 5] [--queries 200]
    DATABASE_URL=postgresql://user:pw@127.0.0.1/any python -m bench.memory

With DATABASE_URL, the script creates a database of its own on that server (the role needs
CREATEDB) and drops it at the end. One uvicorn worker serves the API (CPU 0); this client and the
direct statements run on the other CPU.

The table is a shared product catalogue (rw_mode 3): sku (text), category (text, 1,000 values),
price (number), stock (integer), active (boolean), added (time). It is filled directly (the fill
is not measured), then:

- inserts: update_database_records with 100 rows a request and with one row a request, against
  an INSERT of the same rows in one transaction per batch through the driver (no checks);
- queries, each p50 over `--queries` requests with random parameters:
  point   sku = ?                                    (one row)
  list    category = ? AND stock > ? ORDER BY price DESC LIMIT 20   (about 500 of 1,000 rows)
  range   price >= ? AND price < ? ORDER BY id DESC LIMIT 20       (about 1,000 rows)
  search  sku LIKE '%1234%' ORDER BY id DESC LIMIT 20              (a scan of every row)
  Every side answers what the API does: the page and the total count (counted only when the page
  is full: a page that holds the last row tells the total).

The queries are also sent to a bare Starlette endpoint (bench/bare_app.py) that checks the same
JWT and session and runs the direct statements through the same database connection: what an HTTP
round trip costs on this machine whatever the framework, so that a query cheaper than that round
trip is compared with something an API can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.harness import PASSWORD, ROOT, migrate, server_env, start_uvicorn

CATEGORIES = 1000
FIELDS = [
    {"name": "sku", "type": 1, "must_required": True},
    {"name": "category", "type": 1},
    {"name": "price", "type": 4},
    {"name": "stock", "type": 2},
    {"name": "active", "type": 5},
    {"name": "added", "type": 3},
]
PAGE = 20


def product(rng: random.Random, number: int) -> dict:
    return {
        "sku": f"SKU-{number:08d}",
        "category": f"cat-{rng.randrange(CATEGORIES):04d}",
        "price": f"{rng.uniform(1, 1000):.2f}",
        "stock": str(rng.randrange(1000)),
        "active": "true" if rng.random() < 0.9 else "false",
        "added": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 12:00:00",
    }


def query_params(shape: str, rng: random.Random, rows: int) -> dict:
    if shape == "point":
        return {"sku": f"SKU-{rng.randrange(rows):08d}"}
    if shape == "list":
        return {"category": f"cat-{rng.randrange(CATEGORIES):04d}", "stock": rng.randrange(400, 600)}
    if shape == "search":
        return {"part": f"{rng.randrange(10_000):04d}"}
    low = round(rng.uniform(1, 999), 2)
    return {"low": low, "high": round(low + 1, 2)}


def api_filter(shape: str, params: dict) -> dict:
    """The list_database_records body of a query (Coze's operations: 1 =, 3 >, 4 <, 5 >=, 11 like)."""
    if shape == "search":
        conditions, order = [("sku", 11, params["part"])], None
    elif shape == "point":
        conditions, order = [("sku", 1, params["sku"])], None
    elif shape == "list":
        conditions = [("category", 1, params["category"]), ("stock", 3, str(params["stock"]))]
        order = {"field": "price", "direction": 2}
    else:
        conditions, order = [("price", 5, str(params["low"])), ("price", 4, str(params["high"]))], None
    body = {
        "limit": PAGE,
        "filter_criterion": {
            "conditions": [{"left": f, "operation": op, "right": v} for f, op, v in conditions],
            "logic": "AND",
        },
    }
    if order:
        body["order_by_list"] = [order]
    return body


def direct_statements(
    table: str, columns: dict[str, str], shape: str, params: dict
) -> tuple[str, str, tuple]:
    """The same query as SQL: the page and the total count, with `?` for the parameters."""
    c = columns
    if shape == "search":  # a substring: no index helps, every row is read
        where, values, order = f"LOWER({c['sku']}) LIKE ? ESCAPE '\\'", (f"%{params['part']}%",), "id DESC"
    elif shape == "point":
        where, values, order = f"{c['sku']} = ?", (params["sku"],), "id DESC"
    elif shape == "list":
        where = f"{c['category']} = ? AND {c['stock']} > ?"
        values, order = (params["category"], params["stock"]), f"{c['price']} DESC, id DESC"
    else:
        where, values, order = (
            f"{c['price']} >= ? AND {c['price']} < ?",
            (params["low"], params["high"]),
            "id DESC",
        )
    page = f'SELECT * FROM "{table}" WHERE {where} ORDER BY {order} LIMIT {PAGE + 1}'
    return page, f'SELECT COUNT(*) FROM "{table}" WHERE {where}', values


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Direct:
    """The same statements through the database driver, on the table the API created."""

    def __init__(self, url: str | None, sqlite_path: Path, table: str, columns: dict[str, str]):
        self.postgres = bool(url)
        if self.postgres:
            import psycopg2

            self.connection = psycopg2.connect(url)
            self.connection.autocommit = True  # transactions as on SQLite: explicit BEGIN, COMMIT
            self.mark = "%s"
        else:
            self.connection = sqlite3.connect(sqlite_path, isolation_level=None, timeout=30)
            self.connection.execute("PRAGMA busy_timeout=30000")
            self.mark = "?"
        self.table, self.columns = table, columns  # field name -> column
        self.cursor = self.connection.cursor()

    def run(self, sql: str, params=()) -> list:
        self.cursor.execute(sql.replace("?", self.mark), params)
        return self.cursor.fetchall() if self.cursor.description else []

    def insert(self, rows: list[tuple]) -> None:
        names = ["id", "created_at", "connector_uid", "connector_id", *self.columns.values()]
        marks = ", ".join([self.mark] * len(names))
        sql = f'INSERT INTO "{self.table}" ({", ".join(names)}) VALUES ({marks})'
        self.run("BEGIN")
        if self.postgres:  # the driver's way to send many rows in one statement
            from psycopg2.extras import execute_values

            execute_values(self.cursor, sql.replace(f"VALUES ({marks})", "VALUES %s"), rows, page_size=1000)
        else:
            self.cursor.executemany(sql, rows)
        self.run("COMMIT")

    def page(self, shape: str, params: dict) -> tuple[list, int]:
        page, count, values = direct_statements(self.table, self.columns, shape, params)
        rows = self.run(page, values)
        return rows[:PAGE], self.run(count, values)[0][0] if len(rows) > PAGE else len(rows)

    def analyze(self) -> None:
        if self.postgres:
            self.run(f'ANALYZE "{self.table}"')
        else:
            self.run("ANALYZE")


def as_columns(record: dict, row_id: int, columns: dict[str, str], postgres: bool) -> tuple:
    active = record["active"] == "true"
    values = {
        "sku": record["sku"],
        "category": record["category"],
        "price": float(record["price"]),
        "stock": int(record["stock"]),
        "active": active if postgres else int(active),
        "added": record["added"],
    }
    return (row_id, "2026-12-01 00:00:00", "", 0, *(values[name] for name in columns))


def fill(direct: Direct, rows: int, rng: random.Random, next_id) -> None:
    batch = []
    for number in range(rows):
        batch.append(as_columns(product(rng, number), next_id(), direct.columns, direct.postgres))
        if len(batch) == 10_000:
            direct.insert(batch)
            batch = []
    if batch:
        direct.insert(batch)
    direct.analyze()


def bench_database(url: str | None) -> tuple[str | None, callable]:
    """A fresh database for this run on the server of `url` (and its dropper), or None for SQLite."""
    if not url:
        return None, lambda: None
    import psycopg2

    parts = urlsplit(url)
    name = f"cozeplus_bench_memory_{os.getpid()}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')

    def drop():
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return urlunsplit(parts._replace(path="/" + name)), drop


SHAPES = ("point", "list", "range", "search")
SIDES = ("api", "bare", "direct")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=300, help="requests per query shape and side")
    parser.add_argument(
        "--scans", type=int, default=30, help="requests of the search shape (a full scan) per side"
    )
    parser.add_argument("--batches", type=int, default=20, help="100-row batches per round and side")
    parser.add_argument("--singles", type=int, default=200, help="one-row inserts per round and side")
    args = parser.parse_args()

    url, drop = bench_database(os.environ.get("DATABASE_URL", ""))
    data_dir = Path(tempfile.mkdtemp(prefix="cozeplus-bench-memory-"))
    env = server_env(data_dir, COZEPLUS_MEMORY_MAX_ROWS=str(args.rows * 2))
    env.pop("DATABASE_URL", None)
    if url:
        env["DATABASE_URL"] = url
    migrate(env)
    # the servers measured get CPU 0; this client and the direct statements the other
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, client_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 else (set(cpus), set(cpus))
    os.sched_setaffinity(0, client_cpus)
    servers = []

    def serve(factory: str, probe: str, **extra) -> str:
        server, base = start_uvicorn(factory, {**env, **extra}, probe_path=probe, cwd=ROOT)
        os.sched_setaffinity(server.pid, server_cpus)
        servers.append(server)
        return base

    try:
        run(args, url, serve("core.asgi:create", "/healthz"), data_dir, serve)
    finally:
        for server in servers:
            server.kill()
            server.wait()
        drop()


def run(args, url: str | None, base: str, data_dir: Path, serve) -> None:
    client = httpx.Client(base_url=base, timeout=120)
    token = client.post(
        "/api/passport/web/email/login/", json={"email": "admin@example.com", "password": PASSWORD}
    ).json()["data"]["token"]
    client.headers["Authorization"] = f"Bearer {token}"

    def call(path: str, body: dict) -> dict:
        response = client.post(path, json=body)
        payload = response.json()
        if response.status_code != 200 or payload.get("code") != 0:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
        return payload

    space = call("/api/playground_api/space/list", {})["data"]["bot_space_list"][0]["id"]
    table = call(
        "/api/memory/database/add",
        {"space_id": space, "table_name": "catalogue", "field_list": FIELDS, "rw_mode": 3},
    )["data"]["database_info"]
    columns = {f["name"]: f"f{f['id']}" for f in table["field_list"] if not f.get("is_system_field")}
    table_name = f"memory_rows_{table['id']}_draft"
    direct = Direct(url, data_dir / "cozeplus.db", table_name, columns)
    bare_base = serve(
        "bench.bare_app:create",
        "/api/passport/account/info/v2/",
        BENCH_MEMORY_TABLE=table_name,
        BENCH_MEMORY_COLUMNS=json.dumps(columns),
    )
    bare = httpx.Client(base_url=bare_base, timeout=120, headers={"Authorization": f"Bearer {token}"})
    rng = random.Random(11)
    sequence = iter(range(10**15, 10**16))
    started = time.perf_counter()
    fill(direct, args.rows, rng, lambda: next(sequence))
    engine = "PostgreSQL" if url else "SQLite"
    print(f"{engine}: filled {args.rows:,} rows directly in {time.perf_counter() - started:.0f} s")

    numbers = iter(range(args.rows, 10**9))

    def api_insert(size: int, count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            records = [product(rng, next(numbers)) for _ in range(size)]
            call(
                "/api/memory/database/update_records",
                {"database_id": table["id"], "record_data_add": records},
            )
        return size * count / (time.perf_counter() - started)

    def direct_insert(size: int, count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            records = [product(rng, next(numbers)) for _ in range(size)]
            direct.insert([as_columns(r, next(sequence), columns, direct.postgres) for r in records])
        return size * count / (time.perf_counter() - started)

    inserts = {(size, side): [] for size in (100, 1) for side in ("api", "direct")}
    for _ in range(args.rounds):
        for size, count in ((100, args.batches), (1, args.singles)):
            inserts[(size, "api")].append(api_insert(size, count))
            inserts[(size, "direct")].append(direct_insert(size, count))

    def timed(side: str, shape: str, params: dict) -> tuple[float, int]:
        started = time.perf_counter()
        if side == "api":
            total = call(
                "/api/memory/database/list_records", {"database_id": table["id"], **api_filter(shape, params)}
            )["TotalNum"]
        elif side == "bare":
            total = bare.post("/bare/memory/list", json={"shape": shape, "params": params}).json()["total"]
        else:
            total = direct.page(shape, params)[1]
        return time.perf_counter() - started, total

    direct.analyze()
    latencies = {(shape, side): [] for shape in SHAPES for side in SIDES}
    per_round = {shape: max(1, args.queries // args.rounds) for shape in SHAPES}
    per_round["search"] = max(1, args.scans // args.rounds)
    for _ in range(args.rounds):
        for shape in SHAPES:
            for _ in range(per_round[shape]):
                params = query_params(shape, rng, args.rows)
                totals = set()
                for side in SIDES:
                    seconds, total = timed(side, shape, params)
                    latencies[(shape, side)].append(seconds)
                    totals.add(total)
                if len(totals) != 1:
                    raise SystemExit(f"{shape} {params}: the sides counted {totals}")
    report(engine, args, inserts, latencies)


def report(engine: str, args, inserts: dict, latencies: dict) -> None:
    print(f"\n{engine}, a table of {args.rows:,} rows, {args.rounds} rounds")
    print("| inserts | API rows/s | direct rows/s | ratio | API rows/s by round |")
    print("| --- | --- | --- | --- | --- |")
    for size in (100, 1):
        api, plain = (statistics.median(inserts[(size, side)]) for side in ("api", "direct"))
        rounds = ", ".join(f"{v:,.0f}" for v in inserts[(size, "api")])
        print(f"| {size} a request | {api:,.0f} | {plain:,.0f} | {plain and api / plain:.2f} | {rounds} |")
    print(f"\nEach query a page of {PAGE} rows and the total count")
    heads = ["query", "requests a side", "API p50 ms", "bare HTTP p50 ms", "direct p50 ms"]
    heads += ["direct/API", "bare/API", "API p99 ms"]
    print("| " + " | ".join(heads) + " |")
    print("| --- " * len(heads) + "|")
    for shape in SHAPES:
        api, plain, direct = (statistics.median(latencies[(shape, side)]) * 1000 for side in SIDES)
        p99 = percentile(latencies[(shape, "api")], 0.99) * 1000
        cells = [shape, str(len(latencies[(shape, "api")]))]
        cells += [f"{v:.2f}" for v in (api, plain, direct, direct / api, plain / api, p99)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
