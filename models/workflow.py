"""Workflows: a space's canvases (Coze's workflow and chatflow), their published versions."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from models.base import BaseModel
from models.identity import Space, User

# Coze's WorkflowMode (flow_mode)
FLOW_WORKFLOW, FLOW_IMAGEFLOW, FLOW_SCENEFLOW, FLOW_CHATFLOW = 0, 1, 2, 3


class Workflow(BaseModel):
    space = ForeignKeyField(Space, backref="workflows", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    project_id = BigIntegerField(null=True, index=True)
    name = CharField(max_length=100)
    description = TextField(default="")
    icon_uri = CharField(max_length=255, default="")
    flow_mode = IntegerField(default=FLOW_WORKFLOW)
    schema_json = TextField(default="")  # the draft canvas, as the console saved it
    commit_id = CharField(max_length=40, default="")  # changes with every save
    test_run_passed = BooleanField(default=False)  # the draft ran to its end since its last save

    class Meta:
        table_name = "workflow"


class WorkflowVersion(BaseModel):
    """A published version: the canvas as it was (open API runs use the latest)."""

    workflow = ForeignKeyField(Workflow, backref="versions", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    version = CharField(max_length=40)
    description = TextField(default="")
    schema_json = TextField()
    commit_id = CharField(max_length=40, default="")

    class Meta:
        table_name = "workflow_version"
        indexes = ((("workflow", "version"), True),)
