"""Reading Server-Sent Events in tests, and checking each event's data against the schema the
spec gives it (`x-data-schema` of the event schema)."""

from __future__ import annotations

import functools
import json

import jsonschema
import yaml

from core.settings import REPO_ROOT


def parse(text: str) -> list[tuple[str, object]]:
    """(event, decoded data) pairs; comment lines (keep-alives) are skipped."""
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(":", 1) for line in lines)
        assert set(fields) == {"event", "data"}, f"an event must be exactly event + data: {block!r}"
        assert lines[-1].startswith("data:"), "data must be the last line (the JS SDK emits on data)"
        events.append((fields["event"], json.loads(fields["data"])))
    assert text.endswith("\n\n"), "the stream must end with a blank line"
    return events


@functools.lru_cache(maxsize=1)
def _spec() -> dict:
    with open(REPO_ROOT / "openapi.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _nullable_to_jsonschema(node):
    """OpenAPI 3.0's `nullable` in JSON Schema terms, for the validator."""
    if isinstance(node, list):
        return [_nullable_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_to_jsonschema(v) for k, v in node.items() if not k.startswith("x-")}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def validate(events: list[tuple[str, object]], event_schema: str) -> None:
    spec = _spec()
    schema = spec["components"]["schemas"][event_schema]
    allowed = schema["properties"]["event"]["enum"]
    root = {"components": _nullable_to_jsonschema(spec["components"])}
    for name, data in events:
        assert name in allowed, f"event {name} is not in {event_schema}"
        data_schema = _nullable_to_jsonschema(schema["x-data-schema"][name])
        jsonschema.validate(data, {**data_schema, **root})


def workflow_events(text: str) -> list[dict]:
    """A workflow stream's events as {id, event, data}: three lines each (id, event, data last),
    ids counting from 0, as cozepy needs; each data checked against WorkflowEvent's schema."""
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        assert not any(line.startswith(":") for line in lines), "cozepy refuses comment lines"
        fields = {name.strip(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        assert len(lines) == 3 and set(fields) == {"id", "event", "data"}, f"id, event, data: {block!r}"
        assert lines[-1].startswith("data:"), "data must be the last line (the JS SDK emits on data)"
        events.append({"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])})
    assert text.endswith("\n\n"), "the stream must end with a blank line"
    assert [e["id"] for e in events] == [str(n) for n in range(len(events))]
    validate([(e["event"], e["data"]) for e in events], "WorkflowEvent")
    return events
