"""uvicorn --factory entry points: `apps:flask_app` and `apps:async_app`."""

from pathlib import Path

import connexion

HERE = Path(__file__).resolve().parent


def flask_app():
    app = connexion.FlaskApp(__name__, specification_dir=str(HERE))
    app.add_api("openapi.yaml")
    return app


def async_app():
    app = connexion.AsyncApp(__name__, specification_dir=str(HERE))
    app.add_api("openapi.yaml")
    return app
