"""The merchant dashboard (issue 22): one blueprint under /dashboard, a module per area.

Server-rendered pages that work without JavaScript, in the payment page's style, behind a CSP without
'unsafe-inline'. Every POST carries a CSRF token (Flask-WTF); every page asks the core for the user's role.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, render_template
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from bridge.errors import Problem, register_format
from bridge.extensions import services

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
login_manager = LoginManager()
csrf = CSRFProtect()
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def render_problem(problem: Problem, request_id: str) -> Response:
    """Dashboard errors as a page (the APIs answer JSON in their own formats)."""
    page = render_template("dashboard/error.html", problem=problem, request_id=request_id)
    return _secure(Response(page, status=problem.status, mimetype="text/html"))


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"  # pages show secrets once and per-user data
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.after_request
def _after(response: Response) -> Response:
    return _secure(response)


@bp.before_request
def _csrf() -> None:
    # Every dashboard POST, form or button, carries the token; the APIs (own auth, no cookies) are left out.
    csrf.protect()


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
    from bridge.dashboard import access, auth, keys, stores  # noqa: F401  (routes register on bp)

    access.install(app)
    register_format(app, "/dashboard", render_problem)
    app.register_blueprint(bp)


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """A dashboard page."""
    return render_template(f"dashboard/{template}", **context), status
