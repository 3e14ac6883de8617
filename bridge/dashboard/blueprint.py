"""The dashboard's blueprint, its login manager and CSRF guard, and what every page shares (headers, errors).

Apart from the package, so the area modules register their routes on it without importing the package back.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from bridge.errors import Problem
from bridge.i18n import COOKIE, pick
from gateway_core.adapters.i18n import fixed, translate

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
login_manager = LoginManager()
csrf = CSRFProtect()
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def render_problem(problem: Problem, request_id: str) -> Response:
    """Dashboard errors as a page (the APIs answer JSON in their own formats)."""
    # Also outside the blueprint's routes (an unknown /dashboard/… path), so its strings are passed here.
    page = render_template("dashboard/error.html", problem=problem, request_id=request_id, **_strings())
    return _secure(Response(page, status=problem.status, mimetype="text/html"))


def _secure(response: Response) -> Response:
    # A page with a narrower need (the mailbox's sandboxed email frame) sets its own policy first.
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["Cache-Control"] = "no-store"  # pages show secrets once and per-user data
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@bp.after_request
def _after(response: Response) -> Response:
    return _secure(response)


def language() -> str:
    """The language of the dashboard's pages: the one chosen on the payment page, else the browser's."""
    return pick(request.accept_languages, request.cookies.get(COOKIE))


def t(key: str, **values: object) -> str:
    """A dashboard string in the visitor's language (for views; pages use the t() of the context)."""
    return translate(language(), key, **values)


@bp.context_processor
def _strings() -> dict[str, Any]:
    """t(key) for the pages: the payment page's locale files, in the language the browser asks for."""
    lang = language()
    return {"lang": lang, "t": lambda key, **values: translate(lang, key, **values),
            "amount": lambda value: fixed(value, lang)}


@bp.before_request
def _csrf() -> None:
    # Every dashboard POST, form or button, carries the token; the APIs (own auth, no cookies) are left out.
    csrf.protect()


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """A dashboard page."""
    return render_template(f"dashboard/{template}", **context), status
