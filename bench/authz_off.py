"""bench/authz.py's baselines, for the same requests: `create` removes the enforcer's decision
(every cell allowed, no policy held, no revision read); `create_held` keeps the enforcer built and
its revision read once per request, and skips only the decision itself. Membership is still read
in both; only the Casbin work goes."""

from core import authz
from core.asgi import create as _create


def create():
    authz.allowed = lambda *args, **kwargs: True
    return _create()


def create_held():
    authz.allowed = lambda *args, **kwargs: authz.enforcer() is not None
    return _create()
