"""Users, spaces, login sessions and personal access tokens."""

from __future__ import annotations

import time

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, TextField, fn

from models.base import BaseModel, CompiledQuery, now_s
from models.db import db

SPACE_PERSONAL = 1
SPACE_TEAM = 2

ROLE_OWNER = 1
ROLE_ADMIN = 2
ROLE_MEMBER = 3


class User(BaseModel):
    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    name = CharField(max_length=100, default="")
    unique_name = CharField(max_length=100, null=True, unique=True)
    description = TextField(default="")
    avatar_key = CharField(max_length=64, null=True)
    locale = CharField(max_length=16, default="")
    is_super_admin = BooleanField(default=False)
    is_disabled = BooleanField(default=False)
    must_change_password = BooleanField(default=False)  # set by an administrator's reset

    @classmethod
    def by_email(cls, email: str):
        return cls.get_or_none(cls.email == email.strip().lower())

    @classmethod
    def unique_name_taken(cls, unique_name: str, except_user_id: int) -> bool:
        return (
            cls.select()
            .where((fn.LOWER(cls.unique_name) == unique_name.lower()) & (cls.id != except_user_id))
            .exists()
        )

    def personal_space(self) -> Space:
        return Space.get((Space.owner == self.id) & (Space.space_type == SPACE_PERSONAL))

    @classmethod
    def create_with_space(
        cls, *, email: str, password_hash: str, name: str = "", is_super_admin: bool = False
    ) -> User:
        """A user and their personal space, written together."""
        with db.atomic():
            user = cls.create(
                email=email.strip().lower(),
                password_hash=password_hash,
                name=name or email.split("@")[0],
                is_super_admin=is_super_admin,
            )
            space = Space.create(name="Personal", owner=user.id, space_type=SPACE_PERSONAL)
            SpaceMember.create(space=space.id, user=user.id, role=ROLE_OWNER)
        return user


class Space(BaseModel):
    name = CharField(max_length=100)
    description = TextField(default="")
    icon_uri = CharField(max_length=255, default="")
    space_type = IntegerField(default=SPACE_PERSONAL)
    owner = ForeignKeyField(User, backref="owned_spaces", on_delete="CASCADE")

    @property
    def personal(self) -> bool:
        return self.space_type == SPACE_PERSONAL

    @classmethod
    def for_member(cls, user_id: int):
        """Spaces the user belongs to, with their role, personal space first."""
        return (
            cls.select(cls, SpaceMember.role)
            .join(SpaceMember, on=(SpaceMember.space == cls.id))
            .where(SpaceMember.user == user_id)
            .order_by(cls.space_type, cls.id)
            .objects()
        )


class SpaceMember(BaseModel):
    space = ForeignKeyField(Space, backref="members", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    role = IntegerField(default=ROLE_MEMBER)

    class Meta:
        indexes = ((("space", "user"), True),)

    @classmethod
    def role_of(cls, space_id: int, user_id: int) -> int | None:
        found = _MEMBERSHIP.first(space=space_id, user=user_id)
        return found[0].role if found else None


class LoginSession(BaseModel):
    """One issued JWT (by its jti); logout and password changes revoke it."""

    jti = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    expires_at = BigIntegerField()
    revoked_at = BigIntegerField(null=True)
    client_address = CharField(max_length=64, default="")

    @classmethod
    def active_user(cls, jti: str):
        """The user behind a live session in one query, or None."""
        found = _ACTIVE_SESSION_USER.first(jti=jti, now=now_s())
        return found[0] if found else None

    @classmethod
    def revoke(
        cls, *, jti: str | None = None, user_id: int | None = None, keep_jti: str | None = None
    ) -> int:
        query = cls.update(revoked_at=now_s()).where(cls.revoked_at.is_null())
        if jti is not None:
            query = query.where(cls.jti == jti)
        if user_id is not None:
            query = query.where(cls.user == user_id)
        if keep_jti is not None:
            query = query.where(cls.jti != keep_jti)
        return query.execute()


NEVER = -1
LAST_USED_WRITE_INTERVAL_S = 60


class PersonalAccessToken(BaseModel):
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    name = CharField(max_length=100)
    token_hash = CharField(max_length=64, unique=True)
    expire_at = BigIntegerField(default=NEVER)
    last_used_at = BigIntegerField(default=NEVER)

    @classmethod
    def owned(cls, user_id: int):
        return cls.select().where(cls.user == user_id)

    @classmethod
    def lookup(cls, token_hash: str):
        """(token, user) for a stored hash, in one query, or None."""
        return _TOKEN_WITH_USER.first(token_hash=token_hash)

    @property
    def expired(self) -> bool:
        return self.expire_at != NEVER and self.expire_at <= time.time()

    def use_needs_recording(self) -> bool:
        """last_used_at is written at most once a minute per token."""
        return now_s() - self.last_used_at >= LAST_USED_WRITE_INTERVAL_S

    def mark_used(self) -> None:
        now = now_s()
        type(self).update(last_used_at=now).where(type(self).id == self.id).execute()
        self.last_used_at = now


_ACTIVE_SESSION_USER = CompiledQuery(
    (User,),
    lambda jti, now: (
        User.select(User)
        .join(LoginSession, on=(LoginSession.user == User.id))
        .where(
            (LoginSession.jti == jti) & LoginSession.revoked_at.is_null() & (LoginSession.expires_at > now)
        )
        .limit(1)
    ),
    jti="\x00jti",
    now=-7301230,
)

_TOKEN_WITH_USER = CompiledQuery(
    (PersonalAccessToken, User),
    lambda token_hash: (
        PersonalAccessToken.select(PersonalAccessToken, User)
        .join(User)
        .where(PersonalAccessToken.token_hash == token_hash)
        .limit(1)
    ),
    token_hash="\x00token_hash",
)

_MEMBERSHIP = CompiledQuery(
    (SpaceMember,),
    lambda space, user: (
        SpaceMember.select().where((SpaceMember.space == space) & (SpaceMember.user == user)).limit(1)
    ),
    space=-7301232,
    user=-7301233,
)

ALL_MODELS = [User, Space, SpaceMember, LoginSession, PersonalAccessToken]
