"""Accounts: the first admin, registration, login with failure throttling, password changes."""

from __future__ import annotations

import logging
import secrets

from peewee import IntegrityError

from core import errors
from core.authz import require
from core.ids import parse_id
from core.ratelimit import FailureCounter
from core.security import hash_password, issue_session, verify_password
from core.settings import Settings, get_settings
from models import paging
from models.db import db
from models.identity import LoginSession, User

log = logging.getLogger("cozeplus.accounts")


def ensure_admin(settings: Settings) -> User | None:
    """Create the super admin on first start; print a generated password once."""
    if User.select().where(User.is_super_admin == True).exists():  # noqa: E712
        return None
    password = settings.admin_password
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    try:
        admin = User.create_with_space(
            email=settings.admin_email,
            password_hash=hash_password(password),
            name="Administrator",
            is_super_admin=True,
        )
    except IntegrityError:  # another worker won the race, or the e-mail is a normal user's
        existing = User.by_email(settings.admin_email)
        if existing and not existing.is_super_admin:
            existing.touch(is_super_admin=True)
        return existing
    if generated:
        print(
            f"cozeplus: created admin {settings.admin_email} with password {password} "
            "(shown once; set COZEPLUS_ADMIN_PASSWORD to choose it)",
            flush=True,
        )
    return admin


def _counters(settings: Settings) -> tuple[FailureCounter, FailureCounter, FailureCounter]:
    """Failures per (e-mail, address) and per address lock that address out for the window; per
    e-mail they only pace addresses that have failed before, so no one can lock the owner out."""
    window = settings.login_failure_window_seconds
    return (
        FailureCounter("login-pair", settings.login_max_failures_per_email, window),
        FailureCounter("login-address", settings.login_max_failures_per_address, window),
        FailureCounter("login-email-pace", settings.login_email_pace_per_minute, 60),
    )


def login(email: str, password: str, client_address: str) -> tuple[User, str, int]:
    settings = get_settings()
    email = email.strip().lower()
    by_pair, by_address, email_pace = _counters(settings)
    pair = f"{email} {client_address}"
    wait = max(by_pair.retry_after(pair), by_address.retry_after(client_address))
    if not wait and by_address.count(client_address):
        wait = email_pace.retry_after(email)
    if wait:
        raise errors.LOGIN_THROTTLED(
            f"too many failed logins for this e-mail from this address; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = User.by_email(email)
    if not verify_password(user.password_hash if user else None, password):
        by_pair.record(pair)
        by_address.record(client_address)
        email_pace.record(email)
        log.info(
            "login failed", extra={"fields": {"email_known": user is not None, "client": client_address}}
        )
        raise errors.LOGIN_FAILED()
    if user.is_disabled:
        raise errors.ACCOUNT_DISABLED()
    by_pair.clear(pair)
    token, expires_at = issue_session(user, client_address)
    return user, token, expires_at


def _new_user(email: str, password: str, name: str) -> User:
    """A user with their personal space (registration and administrators make them alike)."""
    if User.by_email(email):
        raise errors.EMAIL_EXISTS(f"the e-mail {email} is already registered")
    try:
        return User.create_with_space(email=email, password_hash=hash_password(password), name=name)
    except IntegrityError:
        raise errors.EMAIL_EXISTS(f"the e-mail {email} is already registered") from None


def register(email: str, password: str, name: str | None, client_address: str) -> tuple[User, str, int]:
    settings = get_settings()
    email = email.strip().lower()
    if settings.registration == "closed":
        raise errors.REGISTRATION_DISABLED("registration is closed on this server; ask an administrator")
    domain = email.rsplit("@", 1)[-1]
    if settings.registration_email_domains and domain not in settings.registration_email_domains:
        raise errors.REGISTRATION_DISABLED(
            f"registration is limited to e-mail domains: {', '.join(settings.registration_email_domains)}"
        )
    user = _new_user(email, password, name or "")
    token, expires_at = issue_session(user, client_address)
    return user, token, expires_at


def change_password(user: User, old_password: str, new_password: str, keep_jti: str | None) -> int:
    """Set a new password; every other session of the user is revoked. Returns how many."""
    if not verify_password(user.password_hash, old_password):
        raise errors.WRONG_OLD_PASSWORD()
    with db.atomic():
        user.touch(password_hash=hash_password(new_password), must_change_password=False)
        return LoginSession.revoke(user_id=user.id, keep_jti=keep_jti)


class NoSuchUser(LookupError):
    pass


def reset_password(email: str, new_password: str, *, must_change: bool = False) -> int:
    """Set a password without the old one (the operator's `cozeplus reset-password`, or an
    administrator's, who makes the user change it next); every session of the user is logged
    out. Returns how many."""
    user = User.by_email(email)
    if user is None:
        raise NoSuchUser(email)
    with db.atomic():
        user.touch(password_hash=hash_password(new_password), must_change_password=must_change)
        return LoginSession.revoke(user_id=user.id, keep_jti=None)


# --- administrators' user management -----------------------------------------------------------


def admin_users(admin: User, keyword: str = "", disabled: int | None = None, page: int = 1, size: int = 20):
    require(admin, "user:read")
    query = User.select()
    if keyword:
        query = query.where(
            User.name.contains(keyword) | User.unique_name.contains(keyword) | User.email.contains(keyword)
        )
    if disabled is not None:
        query = query.where(User.is_disabled == bool(disabled))
    listed = paging.page(query.order_by(User.id.desc()), page, size, total=True)
    return listed.rows, listed.total


def admin_create_user(admin: User, email: str, password: str, name: str = "") -> User:
    require(admin, "user:create")
    return _new_user(email.strip().lower(), password, name).touch(must_change_password=True)


def named(raw_id, field: str = "user_id", *, enabled: bool = False) -> User:
    """The user a request names by id (`enabled`: only an account that may log in)."""
    number = parse_id(raw_id)
    user = User.by_id(number) if number is not None else None
    if user is None or (enabled and user.is_disabled):
        raise errors.USER_NOT_FOUND(f"{field}: user {raw_id} not found")
    return user


def admin_set_disabled(admin: User, user_id, disabled: bool) -> User:
    require(admin, "user:update")
    user = named(user_id)
    if user.id == admin.id and disabled:
        raise errors.PERMISSION_INVALID_PARAM("user_id: administrators cannot disable their own account")
    return user.touch(is_disabled=disabled)


def admin_reset_password(admin: User, email: str, new_password: str) -> int:
    require(admin, "user:update")
    try:
        return reset_password(email, new_password, must_change=True)
    except NoSuchUser:
        raise errors.USER_NOT_FOUND(f"email: no user has the e-mail {email}") from None


def update_profile(user: User, changes: dict) -> User:
    unique_name = changes.get("user_unique_name")
    if unique_name and User.unique_name_taken(unique_name, user.id):
        raise errors.UNIQUE_NAME_EXISTS(f"user_unique_name '{unique_name}' is taken")
    fields = {
        "name": changes.get("name"),
        "unique_name": unique_name,
        "description": changes.get("description"),
        "locale": changes.get("locale"),
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    if fields:
        try:
            user.touch(**fields)
        except IntegrityError:
            raise errors.UNIQUE_NAME_EXISTS(f"user_unique_name '{unique_name}' is taken")
    return user


def logout(jti: str) -> None:
    LoginSession.revoke(jti=jti)
