"""Credentials: password hashing, JWT sessions, personal access tokens, and the functions the
spec's security schemes name (x-bearerInfoFunc / x-apikeyInfoFunc)."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid

import jwt
from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from connexion.security import NO_VALUE

from core import errors
from core.audit import ACTOR
from core.ratelimit import CREDENTIAL, credential_key
from core.settings import get_settings
from models.db import run_db
from models.identity import LoginSession, PersonalAccessToken, User

JWT_ALGORITHM = "HS256"
PAT_PREFIX = "pat_"
SESSION_COOKIE = "session_key"

_hasher: PasswordHasher | None = None
_dummy_hash: str | None = None


def _password_hasher() -> PasswordHasher:
    global _hasher, _dummy_hash
    if _hasher is None:
        settings = get_settings()
        _hasher = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_cost)
        _dummy_hash = _hasher.hash(secrets.token_hex(16))
    return _hasher


def reset_password_hasher() -> None:
    """Forget the hasher so new settings take effect (tests)."""
    global _hasher, _dummy_hash
    _hasher = _dummy_hash = None


def hash_password(password: str) -> str:
    return _password_hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists: unknown users check a dummy hash."""
    hasher = _password_hasher()
    try:
        return hasher.verify(password_hash or _dummy_hash, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# --- JWT sessions ---------------------------------------------------------------------------


def issue_session(user: User, client_address: str = "") -> tuple[str, int]:
    """A signed JWT and its expiry; the session row lets logout revoke it."""
    settings = get_settings()
    now = int(time.time())
    expires_at = now + settings.jwt_ttl_seconds
    jti = uuid.uuid4().hex
    LoginSession.create(jti=jti, user=user.id, expires_at=expires_at, client_address=client_address[:64])
    claims = {"sub": str(user.id), "iat": now, "exp": expires_at, "jti": jti}
    return jwt.encode(claims, settings.secret_key, algorithm=JWT_ALGORITHM), expires_at


@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> dict:
    """Signature and shape, checked once per distinct token: a client sends the same token on
    every request, and PyJWT's decode is the largest single cost of an authenticated read. Expiry
    and revocation are checked on every request by the caller. Invalid tokens raise (not cached)."""
    claims = jwt.decode(
        token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["sub", "exp", "iat", "jti"]}
    )
    if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("exp"), int):
        raise jwt.InvalidTokenError("bad claims")
    return claims


def _decode_jwt(token: str) -> dict:
    try:
        claims = _verified_claims(token, get_settings().secret_key)
    except jwt.ExpiredSignatureError:
        raise errors.AUTH_FAILED("authentication failed: the token has expired")
    except jwt.InvalidTokenError:
        raise errors.AUTH_FAILED("authentication failed: the token is not valid")
    if claims["exp"] <= time.time():
        raise errors.AUTH_FAILED("authentication failed: the token has expired")
    return claims


def _session_user(token: str) -> dict:
    claims = _decode_jwt(token)
    user = LoginSession.active_user(claims["jti"])
    if user is None:
        raise errors.AUTH_FAILED("authentication failed: the session was revoked or has expired")
    return _token_info(user, "session", jti=claims["jti"])


# --- personal access tokens -----------------------------------------------------------------


def new_personal_access_token() -> tuple[str, str]:
    """(plaintext, stored hash). The plaintext is shown once and never stored."""
    token = PAT_PREFIX + secrets.token_hex(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _pat_user(token: str) -> tuple[dict, PersonalAccessToken]:
    found = PersonalAccessToken.lookup(hash_token(token))
    if found is None:
        raise errors.AUTH_FAILED("authentication failed: unknown personal access token")
    pat, user = found
    if pat.expired:
        raise errors.AUTH_FAILED("authentication failed: the personal access token has expired")
    return _token_info(user, "pat", pat_id=pat.id), pat


def require_session(token_info: dict, what: str) -> None:
    """Operations that would let a leaked personal access token outlive its deletion (minting
    tokens, changing the password) need a login session."""
    if token_info["scheme"] != "session":
        raise errors.SESSION_REQUIRED(f"{what} needs a login session; a personal access token cannot do it")


def _token_info(user: User, scheme: str, **extra) -> dict:
    if user.is_disabled:
        raise errors.ACCOUNT_DISABLED()
    return {"sub": str(user.id), "user": user, "scheme": scheme, **extra}


# --- the functions named by openapi.yaml's security schemes ----------------------------------
# On SQLite an indexed read (~40 us) is cheaper than a hop to the thread pool (measured in
# docs/benchmarks-history.md), so credential reads run inline; on PostgreSQL they would wait on the network,
# so they go to the thread pool. Writes always go to the thread pool.

_read = run_db


# what a user whose password an administrator set may still do: change it, see who they are, leave
PASSWORD_CHANGE_OPEN = frozenset({"update_password", "account_info", "users_me", "logout", "logout_post"})


def _checked(info: dict, request) -> dict:
    if request is not None:  # who acts, for the audit log; which credential, for rate limits
        extensions = request.scope.setdefault("extensions", {})
        extensions[ACTOR] = info["user"].id
        extensions[CREDENTIAL] = credential_key(info)
    if info["user"].must_change_password:
        routing = (request.scope.get("extensions") or {}).get("connexion_routing") or {} if request else {}
        # Connexion names the operation by its function: handlers.passport.update_password
        if str(routing.get("operation_id") or "").rsplit(".", 1)[-1] not in PASSWORD_CHANGE_OPEN:
            raise errors.PASSWORD_CHANGE_REQUIRED(
                "an administrator set your password: change it with /api/user/update_password first"
            )
    return info


async def bearer_jwt_info(token: str, request=None, **_):
    if token.startswith(PAT_PREFIX):
        return NO_VALUE
    return _checked(await _read(_session_user, token), request)


async def bearer_pat_info(token: str, request=None, **_):
    if not token.startswith(PAT_PREFIX):
        return NO_VALUE
    info, pat = await _read(_pat_user, token)
    if pat.use_needs_recording():
        await to_thread.run_sync(pat.mark_used)
    return _checked(info, request)


async def cookie_session_info(token: str, request=None, **_):
    return _checked(await _read(_session_user, token), request)
