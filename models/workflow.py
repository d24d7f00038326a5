"""Workflows: a space's canvases (Coze's workflow and chatflow), their published versions."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from models.base import BaseModel, JsonField
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


# Coze's executeStatus (get_process); INTERRUPTED waits for the user (test_resume, stream_resume)
RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED, RUN_INTERRUPTED = 1, 2, 3, 4, 5
RUN_LIVE = (RUN_RUNNING,)
# run_mode (get_run_history)
MODE_SYNC, MODE_STREAM, MODE_ASYNC = 0, 1, 2


class WorkflowRun(BaseModel):
    """One execution (its id is the execute id): the canvas it runs, each node's result, and
    what a resumed run needs (the outcomes of the nodes done, the events waiting for the user)."""

    workflow = ForeignKeyField(Workflow, backref="runs", on_delete="CASCADE")
    space_id = BigIntegerField()  # the workflow's, for the ownership check
    creator = ForeignKeyField(User, on_delete="CASCADE")
    version = CharField(max_length=40, default="")  # "" runs the draft
    schema_json = TextField()
    debug = BooleanField(default=False)  # the console's test run (the draft)
    run_mode = IntegerField(default=MODE_SYNC)
    status = IntegerField(default=RUN_RUNNING)
    inputs = JsonField(default=dict)
    output = TextField(default="")  # what the open API returns as `data`
    error_code = IntegerField(default=0)
    error_msg = TextField(default="")
    tokens = IntegerField(default=0)
    bot_id = BigIntegerField(null=True)
    connector_id = BigIntegerField(default=1024)
    nodes = JsonField(default=dict)  # node id -> its result as get_process shows it
    state = JsonField(default=dict)  # done: {node id: outcome}, events: [...], answers: {node id: text}
    worker_id = BigIntegerField(null=True)
    attempts = IntegerField(default=0)

    class Meta:
        table_name = "workflow_run"
        indexes = ((("status", "worker_id"), False),)


class ChatflowConversation(BaseModel):
    """A conversation of chatflows (Coze's app conversations): named, the user's, within a scope
    (a project's chatflows share theirs; a chatflow outside a project has its own)."""

    space_id = BigIntegerField()
    creator = ForeignKeyField(User, on_delete="CASCADE")
    scope = CharField(max_length=40)  # "project:<id>" or "workflow:<id>"
    name = CharField(max_length=100)

    class Meta:
        table_name = "chatflow_conversation"
        indexes = ((("creator", "scope", "name"), True),)


class ChatflowMessage(BaseModel):
    conversation = ForeignKeyField(ChatflowConversation, backref="messages", on_delete="CASCADE")
    role = CharField(max_length=20)  # user, assistant
    content = TextField(default="")
    run_id = BigIntegerField(null=True)

    class Meta:
        table_name = "chatflow_message"
