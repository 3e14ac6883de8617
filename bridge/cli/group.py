"""What every `voltbridge` command is built from; the one place a GatewayError becomes an error line."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click

from gateway_core.domain.errors import GatewayError


def decimal(_ctx: Any, _param: Any, value: str) -> Decimal:
    """An option's value as a Decimal (a click callback)."""
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None


def describe(exc: GatewayError) -> str:
    """The error's message with its field errors, as one line."""
    detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    return f"{exc.message}{' (' + detail + ')' if detail else ''}"


class GatewayCommand(click.Command):
    """A command whose GatewayError ends it the way click ends on bad input: `Error: ...` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GatewayError as exc:
            raise click.ClickException(describe(exc)) from None


class CommandGroup(click.Group):
    """A group whose commands and subgroups are GatewayCommands and CommandGroups."""

    command_class = GatewayCommand
    group_class = type


def command(name: str) -> Any:
    """Decorator: a top-level `voltbridge` command."""
    return click.command(name, cls=GatewayCommand)


def group(name: str) -> Any:
    """Decorator: a top-level `voltbridge` group; its docstring's first line is what `voltbridge --help` shows."""
    return click.group(name, cls=CommandGroup)
