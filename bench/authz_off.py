"""The server with the enforcer's decision removed (every cell allowed): bench/authz.py's
baseline, for the same requests. Membership is still read; only the Casbin check goes."""

from core import authz
from core.asgi import create as _create


def create():
    authz.allowed = lambda *args, **kwargs: True
    return _create()
