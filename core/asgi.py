"""The ASGI entry point for uvicorn: `uvicorn --factory core.asgi:create`."""
from core.app import create_app


def create():
    return create_app()
