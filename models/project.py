"""Projects (Coze's apps): a space's container for workflows, tables, knowledge and the variables
its workflows share. Project variables are defined here (`variable_list`, in an agent's shape);
each end user's values are memory_variable rows that name the project instead of an agent."""

from __future__ import annotations

from peewee import CharField, ForeignKeyField, TextField

from models.base import BaseModel, JsonField
from models.identity import Space, User


class Project(BaseModel):
    space = ForeignKeyField(Space, backref="projects", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=100)
    description = TextField(default="")
    icon_uri = CharField(max_length=255, default="")
    config = JsonField(default=dict)  # variable_list: [{key, description, default_value, ...}]

    class Meta:
        table_name = "project"
