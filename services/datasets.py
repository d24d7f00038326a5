"""Knowledge bases (datasets): create, update, delete, list, and their counts."""

from __future__ import annotations

from peewee import IntegrityError, fn

from core import authz, errors
from core.ids import parse_id
from models import paging
from models.agent import Bot
from models.db import write_transaction
from models.identity import User
from models.knowledge import (
    BUSY,
    DOC_FAILED,
    FORMAT_TEXT,
    Dataset,
    Document,
    SliceVector,
)
from services import embeddings, projects, refs
from services.fulltext import FullTextIndex

# --- datasets ----------------------------------------------------------------------------------


def load_dataset(user: User, dataset_id, action: str = authz.READ) -> Dataset:
    return refs.one(user, refs.DATASET, dataset_id, action)


def datasets_by_ids(user: User, dataset_ids: list, space_id=None, project_id=None) -> list[Dataset]:
    """The knowledge bases named (in `space_id` and app `project_id`, when the request names them)."""
    datasets = refs.many(user, refs.DATASET, dataset_ids, field="dataset_ids")
    space = (
        refs.one(user, refs.SPACE, space_id, "knowledge:read", field="space_id").id
        if space_id not in (None, "")
        else None
    )
    project = refs.optional(user, refs.PROJECT, project_id, field="project_id")
    for dataset in datasets:
        if (space is not None and dataset.space_id != space) or (
            project is not None and dataset.project_id != project
        ):
            raise errors.KNOWLEDGE_NOT_FOUND(f"knowledge base {dataset.id} is not in the space or app named")
    return datasets


def _duplicate(name: str) -> errors.ApiError:
    return errors.KNOWLEDGE_NAME_DUPLICATE(f"the space already has a knowledge base named '{name}'")


def create_dataset(
    user: User,
    space_id,
    name: str,
    *,
    description: str = "",
    icon_uri: str = "",
    format_type: int | None = None,
    project_id=None,
) -> Dataset:
    space_id = refs.one(user, refs.SPACE, space_id, "knowledge:create", field="space_id").id
    name = name.strip()
    icon_uri = refs.file_uri(user, icon_uri, field="icon_uri", invalid=errors.KNOWLEDGE_INVALID_PARAM)
    project_id = projects.in_space(user, project_id, space_id)
    try:
        with write_transaction():
            return Dataset.create(
                space=space_id,
                creator=user.id,
                name=name,
                description=description or "",
                icon_uri=icon_uri,
                format_type=format_type or FORMAT_TEXT,
                project_id=project_id,
            )
    except IntegrityError:
        raise _duplicate(name)


def update_dataset(
    user: User,
    dataset_id,
    *,
    name: str | None = None,
    description: str | None = None,
    icon_uri: str | None = None,
) -> Dataset:
    """Change what is given (None: unchanged)."""
    dataset = load_dataset(user, dataset_id, authz.UPDATE)
    given = {"name": name, "description": description, "icon_uri": icon_uri}
    fields = {k: v for k, v in given.items() if v is not None}
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    if "icon_uri" in fields:
        fields["icon_uri"] = refs.file_uri(
            user,
            fields["icon_uri"],
            field="icon_uri",
            current=dataset.icon_uri,
            invalid=errors.KNOWLEDGE_INVALID_PARAM,
        )
    if fields:
        try:
            with write_transaction():
                dataset.touch(**fields)
        except IntegrityError:
            raise _duplicate(fields["name"])
    return dataset


def delete_dataset(user: User, dataset_id) -> None:
    dataset = load_dataset(user, dataset_id, authz.DELETE)
    with write_transaction():
        FullTextIndex.remove_datasets([dataset.id])
        dataset.delete_instance()


def list_datasets(
    user: User,
    space_id,
    *,
    name: str | None = None,
    dataset_ids=None,
    project_id=None,
    mine_only: bool = False,
    format_type: int | None = None,
    order_by_update: bool = False,
    ascending: bool = False,
    page: int = 1,
    size: int = 20,
) -> tuple[list[Dataset], int]:
    number = refs.one(user, refs.SPACE, space_id, "knowledge:read", field="space_id").id
    query = Dataset.select().where(Dataset.space == number)
    project = refs.optional(user, refs.PROJECT, project_id, field="project_id")
    if project is not None:
        query = query.where(Dataset.project_id == project)
    if name:
        query = query.where(Dataset.name.contains(name) | Dataset.description.contains(name))
    if dataset_ids:
        named = refs.many(user, refs.DATASET, dataset_ids, field="filter.dataset_ids")
        query = query.where(Dataset.id.in_([d.id for d in named]))
    if mine_only:
        query = query.where(Dataset.creator == user.id)
    if format_type is not None:
        query = query.where(Dataset.format_type == format_type)
    column = Dataset.updated_at if order_by_update else Dataset.created_at
    query = query.order_by(
        column.asc() if ascending else column.desc(), Dataset.id.asc() if ascending else Dataset.id.desc()
    )
    listed = paging.page(query, page, size, total=True)
    return listed.rows, listed.total


def dataset_stats(datasets: list[Dataset]) -> dict[int, dict]:
    """Counters per dataset for list and detail views: documents from one grouped query, the
    agents of the same spaces that bind each from one more."""
    dataset_ids = [d.id for d in datasets]
    stats = {
        i: {
            "doc_count": 0,
            "slice_count": 0,
            "hit_count": 0,
            "all_file_size": 0,
            "bot_used_count": 0,
            "processing_file_id_list": [],
            "failed_file_list": [],
            "embedded_slice_count": 0,
        }
        for i in dataset_ids
    }
    if not dataset_ids:
        return stats
    model = embeddings.embedding_model()
    if model is not None:  # how far the background embedding has come
        for dataset, count in (
            SliceVector.select(SliceVector.dataset_id, fn.COUNT(SliceVector.slice))
            .where(SliceVector.dataset_id.in_(dataset_ids), SliceVector.model_id == model.id)
            .group_by(SliceVector.dataset_id)
            .tuples()
        ):
            stats[dataset]["embedded_slice_count"] = count
    for bot in Bot.select(Bot.config).where(
        Bot.space.in_({d.space_id for d in datasets}), Bot.config.contains('"knowledge_info":[{')
    ):
        bound = {
            parse_id(k.get("id"))
            for k in (bot.config.get("knowledge") or {}).get("knowledge_info") or []
            if isinstance(k, dict)
        }
        for dataset_id in bound & stats.keys():
            stats[dataset_id]["bot_used_count"] += 1
    rows = (
        Document.select(
            Document.dataset,
            fn.COUNT(Document.id),
            fn.SUM(Document.slice_count),
            fn.SUM(Document.hit_count),
            fn.SUM(Document.size),
        )
        .where(Document.dataset.in_(dataset_ids))
        .group_by(Document.dataset)
        .tuples()
    )
    for dataset, docs, slices, hits, size in rows:
        stats[dataset].update(
            doc_count=docs,
            slice_count=int(slices or 0),
            hit_count=int(hits or 0),
            all_file_size=int(size or 0),
        )
    pending = (
        Document.select(Document.dataset, Document.id, Document.status)
        .where(Document.dataset.in_(dataset_ids), Document.status.in_([*BUSY, DOC_FAILED]))
        .tuples()
    )
    for dataset, doc, status in pending:
        key = "failed_file_list" if status == DOC_FAILED else "processing_file_id_list"
        stats[dataset][key].append(str(doc))
    return stats
