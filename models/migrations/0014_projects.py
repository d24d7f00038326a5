"""Projects (apps). Tables made in a project say so; an end user's variable values name either an
agent or a project (bot_id becomes optional, and each owner has its own unique index)."""

from peewee import BigIntegerField, CharField, ForeignKeyField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db

    class Space(Base):
        class Meta:
            table_name = "space"

    class User(Base):
        class Meta:
            table_name = "user"

    class Project(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=100)
        description = TextField(default="")
        icon_uri = CharField(max_length=255, default="")
        config = TextField(default="{}")

        class Meta:
            table_name = "project"

    return Project


def up(migrator, db):
    project = _tables(db)
    db.create_tables([project])
    migrator.add_column("memory_database", "project_id", BigIntegerField(null=True)).run()
    migrator.add_index("memory_database", ("project_id",)).run()
    migrator.drop_not_null("memory_variable", "bot_id").run()
    migrator.add_column(
        "memory_variable",
        "project_id",
        ForeignKeyField(project, null=True, on_delete="CASCADE", field=project.id),
    ).run()
    migrator.add_index(
        "memory_variable", ("project_id", "connector_id", "connector_uid", "keyword"), unique=True
    ).run()


def down(migrator, db):
    db.execute_sql("DELETE FROM memory_variable WHERE bot_id IS NULL")
    for index in (
        "memory_variable_project_id_connector_id_connector_uid_keyword",
        "memory_variable_project_id",
    ):
        migrator.drop_index("memory_variable", index).run()
    migrator.drop_column("memory_variable", "project_id").run()
    migrator.add_not_null("memory_variable", "bot_id").run()
    migrator.drop_index("memory_database", "memory_database_project_id").run()
    migrator.drop_column("memory_database", "project_id").run()
    db.drop_tables([_tables(db)])
