"""The merchant dashboard (issue 22): one blueprint under /dashboard, a module per area.

Server-rendered pages that work without JavaScript, in the payment page's style, behind a CSP without
'unsafe-inline'. Every POST carries a CSRF token (Flask-WTF); every page asks the core for the user's role.
"""

from __future__ import annotations

from flask import Flask

from bridge.dashboard import (  # noqa: F401  (their routes register on bp)
    access,
    admin,
    auth,
    inbox,
    integrations,
    invoice_page,
    invoices,
    keys,
    mailbox,
    notifications,
    overview,
    recovery,
    store_edit,
    stores,
    two_factor,
)
from bridge.dashboard.blueprint import bp, csrf, login_manager, render_problem
from bridge.errors import register_format
from bridge.extensions import services


def init_app(app: Flask) -> None:
    """Wire the dashboard into the app: cookie flags, CSRF, Flask-Login, error pages and the routes."""
    settings = services(app).settings
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the dashboard's own hook, so API posts are not touched
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session, which is revocable, instead of a clock
        REMEMBER_COOKIE_HTTPONLY=True,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "dashboard.sign_in"
    login_manager.session_protection = None  # the server-side session record is the protection

    access.install(app)
    register_format(app, "/dashboard", render_problem)
    app.register_blueprint(bp)
