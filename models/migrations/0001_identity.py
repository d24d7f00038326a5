"""Users, spaces, space members, login sessions, personal access tokens (frozen copies)."""

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()

        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        email = CharField(max_length=254, unique=True)
        password_hash = CharField(max_length=255)
        name = CharField(max_length=100, default="")
        unique_name = CharField(max_length=100, null=True, unique=True)
        description = TextField(default="")
        avatar_key = CharField(max_length=64, null=True)
        locale = CharField(max_length=16, default="")
        is_super_admin = BooleanField(default=False)
        is_disabled = BooleanField(default=False)

    class Space(Base):
        name = CharField(max_length=100)
        description = TextField(default="")
        icon_uri = CharField(max_length=255, default="")
        space_type = IntegerField(default=1)
        owner = ForeignKeyField(User, on_delete="CASCADE")

    class SpaceMember(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        user = ForeignKeyField(User, on_delete="CASCADE")
        role = IntegerField(default=3)

        class Meta:
            indexes = ((("space", "user"), True),)

    class LoginSession(Base):
        jti = CharField(max_length=64, unique=True)
        user = ForeignKeyField(User, on_delete="CASCADE")
        expires_at = BigIntegerField()
        revoked_at = BigIntegerField(null=True)
        client_address = CharField(max_length=64, default="")

    class PersonalAccessToken(Base):
        user = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=100)
        token_hash = CharField(max_length=64, unique=True)
        expire_at = BigIntegerField(default=-1)
        last_used_at = BigIntegerField(default=-1)

    return [User, Space, SpaceMember, LoginSession, PersonalAccessToken]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
