"""Knowledge bases (datasets), their documents, slices (chunks) and slice vectors. The indexes
over them (full text, vectors) are services: services/fulltext.py and services/vectors.py."""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BlobField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from models.base import BaseModel, JsonField
from models.db import db
from models.files import StoredFile
from models.identity import Space, User

FORMAT_TEXT, FORMAT_TABLE, FORMAT_IMAGE = 0, 1, 2

DATASET_READY = 1

DOC_PROCESSING, DOC_ENABLED, DOC_DISABLED, DOC_RESEGMENTING, DOC_FAILED = 0, 1, 2, 4, 9
BUSY = (DOC_PROCESSING, DOC_RESEGMENTING)  # statuses of a document being processed
SOURCE_LOCAL_FILE, SOURCE_WEB, SOURCE_CUSTOM = 0, 1, 2

SLICE_INDEXED, SLICE_DISABLED = 1, 9


class Dataset(BaseModel):
    space = ForeignKeyField(Space, backref="datasets", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=100)
    description = TextField(default="")
    icon_uri = CharField(max_length=255, default="")
    format_type = IntegerField(default=FORMAT_TEXT)
    status = IntegerField(default=DATASET_READY)
    chunk_strategy = JsonField(default=dict)  # the strategy later documents reuse
    project_id = BigIntegerField(null=True)
    vector_version = BigIntegerField(default=0)  # bumped when its vectors change (caches reload)

    class Meta:
        table_name = "kb_dataset"
        indexes = ((("space", "name"), True),)


class Document(BaseModel):
    dataset = ForeignKeyField(Dataset, backref="documents", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=255)
    file = ForeignKeyField(StoredFile, null=True, on_delete="SET NULL")
    source_type = IntegerField(default=SOURCE_LOCAL_FILE)
    web_url = TextField(default="")
    file_type = CharField(max_length=20, default="")
    size = BigIntegerField(default=0)
    char_count = BigIntegerField(default=0)
    slice_count = IntegerField(default=0)
    hit_count = IntegerField(default=0)
    status = IntegerField(default=DOC_PROCESSING)
    status_reason = TextField(default="")
    progress = IntegerField(default=0)
    chunk_strategy = JsonField(default=dict)
    parsing_strategy = JsonField(default=dict)
    table_meta = JsonField(default=list)
    caption = TextField(default="")
    update_rule = JsonField(default=dict)  # web documents: update_type, update_interval (hours)
    worker_id = BigIntegerField(null=True)  # the WorkerInstance processing it (None: queued)
    attempts = IntegerField(default=0)  # processing runs started, crashes included

    class Meta:
        table_name = "kb_document"
        indexes = ((("dataset", "status"), False),)

    @property
    def busy(self) -> bool:
        return self.status in BUSY

    @property
    def failed(self) -> bool:
        return self.status == DOC_FAILED


class Slice(BaseModel):
    document = ForeignKeyField(Document, backref="slices", on_delete="CASCADE")
    dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
    sequence = IntegerField()  # 1-based position in the document
    content = TextField()
    status = IntegerField(default=SLICE_INDEXED)
    char_count = IntegerField(default=0)
    hit_count = IntegerField(default=0)
    meta = JsonField(default=dict)  # heading_path, page, row (table cells by column id)

    class Meta:
        table_name = "kb_slice"
        indexes = ((("document", "sequence"), False),)

    @property
    def enabled(self) -> bool:
        return self.status != SLICE_DISABLED


class SliceVector(Model):
    """One slice's embedding (float32, unit length) by the model that made it."""

    slice = ForeignKeyField(Slice, primary_key=True, on_delete="CASCADE")
    dataset_id = BigIntegerField(index=True)
    model_id = BigIntegerField()
    vector = BlobField()

    class Meta:
        database = db
        table_name = "kb_slice_vector"
