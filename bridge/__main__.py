"""`python -m bridge` is the `voltbridge` command."""

from bridge.cli import main

main()
