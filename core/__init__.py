"""Cross-cutting pieces: app factory, settings, errors, security, ids, middleware."""

import warnings

# Connexion imports starlette.testclient at import time, which warns about httpx on every start.
warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
