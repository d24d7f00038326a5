"""Projects (Coze's apps, /api/intelligence_api/draft_project/*): a space's container for the
tables, knowledge bases and workflows made in it, and for the variables its workflows share.

Project variables are defined with Coze's project-memory structs (PascalCase: Keyword,
DefaultValue, Channel ...) and stored in the agents' definition shape, so the same code reads,
checks and fills them; end users' values are memory_variable rows that name the project."""

from __future__ import annotations

from core import authz, errors
from models.db import write_transaction
from models.identity import User
from models.knowledge import Dataset
from models.memory import MemoryDatabase
from models.project import Project
from services import refs

# Coze's VariableChannel and VariableType
CHANNEL_CUSTOM, CHANNEL_SYSTEM, CHANNEL_APP = 1, 2, 5
KV_VARIABLE, LIST_VARIABLE = 1, 2
MAX_VARIABLES = 100


def load(user: User, project_id, action: str = authz.READ, *, field: str = "project_id") -> Project:
    return refs.one(user, refs.PROJECT, project_id, action, field=field)


def in_space(user: User, project_id, space_id: int, *, field: str = "project_id") -> int | None:
    """The id of the project a resource is made in, which must be of the resource's space."""
    number = refs.optional(user, refs.PROJECT, project_id, field=field)
    if number is not None and Project.by_id(number).space_id != space_id:
        raise refs.PROJECT.refused(project_id, field)
    return number


def _name(raw, where: str) -> str:
    name = (raw or "").strip()
    if not name:
        raise errors.APP_INVALID_PARAM(f"{where}: must not be empty")
    return name


def create(user: User, space_id, name: str, description: str = "", icon_uri: str = "") -> Project:
    space = refs.one(user, refs.SPACE, space_id, "project:create", field="space_id")
    return Project.create(
        space=space.id,
        creator=user.id,
        name=_name(name, "name"),
        description=description or "",
        icon_uri=_icon(user, icon_uri),
    )


def _icon(user: User, icon_uri) -> str:
    return refs.file_uri(user, icon_uri or "", field="icon_uri", invalid=errors.APP_INVALID_PARAM)


def update(user: User, project_id, *, name=None, description=None, icon_uri=None) -> Project:
    project = load(user, project_id, authz.UPDATE)
    changes = {}
    if name is not None:
        changes["name"] = _name(name, "name")
    if description is not None:
        changes["description"] = description
    if icon_uri is not None:
        changes["icon_uri"] = _icon(user, icon_uri)
    if changes:
        project.touch(**changes)
    return project


def delete(user: User, project_id) -> None:
    """The project and what was made in it: its tables and knowledge bases (end users' values of
    its variables go with it)."""
    from services import datasets, memory  # imported here: they import this module

    project = load(user, project_id, authz.DELETE)
    with write_transaction():
        for database in MemoryDatabase.select().where(MemoryDatabase.project_id == project.id):
            memory.delete(user, database.id)
        for dataset in Dataset.select().where(Dataset.project_id == project.id):
            datasets.delete_dataset(user, dataset.id)
        project.delete_instance()


# --- variables ---------------------------------------------------------------------------------


def definition_of(variable: dict, where: str) -> dict:
    """One of Coze's project Variable structs in the agents' definition shape."""
    channel = variable.get("Channel") or CHANNEL_APP
    if channel not in (CHANNEL_CUSTOM, CHANNEL_SYSTEM, CHANNEL_APP):
        raise errors.APP_INVALID_PARAM(f"{where}.Channel: 1 (custom), 2 (system) or 5 (app)")
    return {
        "key": variable.get("Keyword"),
        "description": variable.get("Description") or "",
        "default_value": variable.get("DefaultValue") or "",
        "is_system": channel == CHANNEL_SYSTEM,
        "is_disabled": variable.get("Enable") is False,
        "read_only": bool(variable.get("IsReadOnly")) or channel == CHANNEL_SYSTEM,
        "variable_type": variable.get("VariableType") or KV_VARIABLE,
        "schema": variable.get("Schema") or "",
        "channel": channel,
        "effective_channels": list(variable.get("EffectiveChannelList") or []),
    }


def variables_of(user: User, project_id) -> tuple[list[dict], bool]:
    """The project's variable definitions (disabled ones too) and whether the caller may edit them."""
    project = load(user, project_id, field="ProjectID")
    return list((project.config or {}).get("variable_list") or []), authz.may(
        user, project.space_id, "project:update"
    )


def set_variables(user: User, project_id, variables: list[dict]) -> Project:
    """Replace the project's variable definitions (checked as an agent's are)."""
    from services.variables import check_definitions

    project = load(user, project_id, authz.UPDATE, field="ProjectID")
    if len(variables) > MAX_VARIABLES:
        raise errors.APP_INVALID_PARAM(f"VariableList: at most {MAX_VARIABLES} variables")
    items = [definition_of(v, f"VariableList[{i}]") for i, v in enumerate(variables)]
    check_definitions(
        items, field="VariableList", error=errors.APP_INVALID_PARAM, names=("Keyword", "DefaultValue")
    )
    project.touch(config={**(project.config or {}), "variable_list": items})
    return project
