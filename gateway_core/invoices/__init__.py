"""Invoice use cases: creation (the one write path) and the invoice of a storefront platform's order."""
