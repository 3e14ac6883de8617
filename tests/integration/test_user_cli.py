"""`voltbridge user create|list` (issue 22): the operator's way to make the first (admin) account."""

from __future__ import annotations

import json

from bridge.cli import main
from tests.integration.dashboard_support import PASSWORD, sign_in


def run(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_user_create_admin_then_list_and_sign_in(app, client) -> None:
    made = run(app, "user", "create", "--admin", "Admin@Shop.test", "--json", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    account = json.loads(made.output.strip().splitlines()[-1])
    assert account == {"id": account["id"], "email": "admin@shop.test", "admin": True}
    clerk = run(app, "user", "create", "clerk@shop.test", "--password", PASSWORD)
    assert clerk.exit_code == 0 and "clerk@shop.test" in clerk.output and "(admin)" not in clerk.output
    listing = run(app, "user", "list")
    assert listing.output.splitlines() == [f"{account['id']}\tadmin@shop.test\tadmin",
                                           f"{account['id'] + 1}\tclerk@shop.test\t-"]
    assert PASSWORD not in listing.output
    assert sign_in(client, "admin@shop.test").status_code == 302


def test_user_create_refuses_bad_input_with_one_error_line(app) -> None:
    short = run(app, "user", "create", "a@shop.test", "--password", "short")
    assert short.exit_code == 1 and "Invalid password" in short.output
    bad = run(app, "user", "create", "not-an-email", "--password", PASSWORD)
    assert bad.exit_code == 1 and "Invalid email" in bad.output
    run(app, "user", "create", "a@shop.test", "--password", PASSWORD)
    again = run(app, "user", "create", "A@shop.test", "--password", PASSWORD)
    assert again.exit_code == 1 and "already registered" in again.output
    assert json.loads(run(app, "user", "list", "--json").output)["admin"] is True  # the first account
