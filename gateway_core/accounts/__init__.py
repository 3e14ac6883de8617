"""Dashboard accounts (issue 22): users, passwords, revocable sessions and store roles. No Flask here."""
