"""Flask extensions, created unbound and initialised in create_app.

The models live in gateway_core (plain SQLAlchemy 2); Flask-SQLAlchemy supplies the engine and the
request-scoped session the bridge hands to the core's units of work.
"""

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy(session_options={"expire_on_commit": False})
