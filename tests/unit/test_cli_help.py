"""`voltbridge --help`: our commands only, each with its one-line description; the console script is that group.

(`python -m bridge` runs in test_cli.test_db_upgrade_creates_the_schema.)
"""

from __future__ import annotations

from importlib.metadata import entry_points

from click.testing import CliRunner

from bridge.cli import main

COMMANDS = {"run", "web", "worker", "parked", "db", "store", "key", "user", "invoice", "simulate", "reconcile",
            "saleor", "shopify", "woocommerce"}


def listed(help_text: str) -> dict[str, str]:
    """The Commands section of a click help page: name -> description."""
    section = help_text.split("Commands:\n", 1)[1]
    return {name: description.strip() for name, _, description in
            (line.strip().partition(" ") for line in section.splitlines() if line.strip())}


def test_help_lists_our_commands_each_with_a_description() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    commands = listed(result.output)
    assert set(commands) == COMMANDS
    assert all(commands.values()), commands
    options = result.output.split("Options:\n", 1)[1].split("Commands:", 1)[0]
    assert options.split() == ["--help", "Show", "this", "message", "and", "exit."]


def test_every_group_has_a_one_line_description_and_descriptions_of_its_commands() -> None:
    for name, command in main.commands.items():
        assert command.help and command.get_short_help_str(limit=200).endswith("."), name
        for sub in getattr(command, "commands", {}).values():
            assert sub.get_short_help_str(limit=200), f"{name} {sub.name}"


def test_the_console_script_is_the_group() -> None:
    script, = (ep for ep in entry_points(group="console_scripts") if ep.name == "voltbridge")
    assert script.value == "bridge.cli:main" and script.load() is main
