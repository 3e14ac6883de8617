"""Flask extensions, created unbound and initialised in create_app, and the one way to reach the services.

The models live in gateway_core (plain SQLAlchemy 2); Flask-SQLAlchemy supplies the engine and the
request-scoped session the bridge hands to the core's units of work.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy

from gateway_core.bootstrap import Services

db = SQLAlchemy(session_options={"expire_on_commit": False})
SERVICES = "voltbridge"  # the key of the app's Services in app.extensions


def services(app: Flask | None = None) -> Services:
    """The gateway's services of `app`, or of the current app."""
    return (app or current_app).extensions[SERVICES]
