"""Store roles (issue 22): what owner, manager and viewer may do."""

from __future__ import annotations

from gateway_core.accounts.members import PERMISSIONS, ROLES


def test_owner_may_everything_manager_all_but_keys_wallets_members_viewer_only_reads() -> None:
    assert ROLES == ("owner", "manager", "viewer")
    assert PERMISSIONS["owner"] == {"view", "edit", "keys", "wallets", "members"}
    assert PERMISSIONS["manager"] == PERMISSIONS["owner"] - {"keys", "wallets", "members"}
    assert PERMISSIONS["viewer"] == {"view"}
