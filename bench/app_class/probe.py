"""Handlers for the app-class probe: the same spec served by Connexion's FlaskApp and AsyncApp.
Flask gets sync handlers and a sync generator; AsyncApp gets an async generator (what each
framework's users would write)."""

import asyncio
import os
import sqlite3
import time

DB = os.environ["PROBE_DB"]
KIND = os.environ["PROBE_KIND"]
_produced = {"events": 0}


def read():
    with sqlite3.connect(DB) as conn:
        row = conn.execute("SELECT id, name FROM item WHERE id = 1").fetchone()
    return {"id": row[0], "name": row[1]}


def produced():
    return {"events": _produced["events"]}


def _event(i):
    return f'event: tick\ndata: {{"i": {i}}}\n\n'


if KIND == "flask":
    from flask import Response, stream_with_context

    def stream(events=20, gap_ms=100):
        def generate():
            for i in range(events):
                _produced["events"] += 1
                yield _event(i)
                time.sleep(gap_ms / 1000)

        return Response(stream_with_context(generate()), mimetype="text/event-stream")
else:
    from starlette.responses import StreamingResponse

    async def stream(events=20, gap_ms=100):
        async def generate():
            for i in range(events):
                _produced["events"] += 1
                yield _event(i)
                await asyncio.sleep(gap_ms / 1000)

        return StreamingResponse(generate(), media_type="text/event-stream")
