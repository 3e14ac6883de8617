"""Which Solana accounts the watcher reads: a direct wallet and its USDC account, or a deposit owner's two
accounts, ranked for push subscriptions; and the balance and cursor each account is read against."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from solders.account import Account
from solders.pubkey import Pubkey

from gateway_core.adapters.chains.solana_parse import ATA_PROGRAM, TOKEN_PROGRAM
from gateway_core.ports import WatchedAddress

_TOKEN_AMOUNT = slice(64, 72)  # SPL token account layout: mint(32) owner(32) amount(u64 LE) ...
_PROGRAM_IDS = (Pubkey.from_string(TOKEN_PROGRAM), Pubkey.from_string(ATA_PROGRAM))


def associated_token_address(owner: str, mint: str) -> str:
    """The owner's associated token account for `mint` (the address a Solana Pay wallet pays USDC to)."""
    token, ata = _PROGRAM_IDS
    address, _ = Pubkey.find_program_address(
        [bytes(Pubkey.from_string(owner)), bytes(token), bytes(Pubkey.from_string(mint))], ata)
    return str(address)


def parse_cursor(position: str | None) -> tuple[int | None, str | None]:
    """(last balance, newest finalized signature) of a scope's cursor."""
    if not position:
        return None, None
    balance, _, signature = position.partition("|")
    return (int(balance) if balance else None), (signature or None)


def account_balance(info: Account | None, kind: str) -> int:
    """Lamports (kind 'SOL') or token units (an SPL token account) in an account, 0 for a missing one."""
    if info is None:
        return 0
    if kind == "SOL":
        return int(info.lamports)
    data = bytes(info.data)
    return int.from_bytes(data[_TOKEN_AMOUNT], "little") if len(data) >= 72 else 0


def plan(watched: Iterable[WatchedAddress], mint: str, token_account: Callable[[str, str], str],
         unchosen: bool) -> tuple[dict[str, None], dict[str, str], list[str]]:
    """(direct accounts, deposit accounts with their kind, and the accounts to subscribe in order).

    The order is the budget's (SolanaPush.follow): newest invoice first, except that the account of the
    asset a deposit buyer did not pick comes after every other (without push it is polled only every
    `unchosen_every` seconds too); closed invoices' accounts are not subscribed at all.
    """
    direct: dict[str, None] = {}
    picks: dict[str, set[str] | None] = {}  # deposit owner -> the assets picked (None: no pick)
    opened: dict[str, float] = {}  # account -> newest opening among its open invoices (a timestamp)
    for w in sorted(watched, key=lambda w: (w.address, w.asset)):
        when = w.opened.timestamp() if w.opened is not None else 0.0
        if w.closed:
            when = float("-inf")  # closed invoices' accounts are polled for late payments, not subscribed
        if w.deposit:
            picked = picks.setdefault(w.address, None)
            if w.chosen is not None:
                picks[w.address] = (picked or set()) | ({w.asset} if w.chosen else set())
            accounts = [w.address, token_account(w.address, mint)]
        else:
            # The wallet itself is always read: SOL against a USDC quote or a wrong mint shows up there.
            direct[w.address] = None
            accounts = [w.address]
            if w.asset == "USDC":
                accounts.append(token_account(w.address, mint))
                direct[accounts[-1]] = None
        for account in accounts:
            opened[account] = max(opened.get(account, when), when)
    deposit: dict[str, str] = {}  # account -> kind ('SOL' lamports or 'USDC' token amount)
    passed: set[str] = set()  # accounts of an asset the buyer did not pick
    for owner, picked in picks.items():
        for account, kind in ((owner, "SOL"), (token_account(owner, mint), "USDC")):
            if picked is None or kind in picked or unchosen:
                deposit[account] = kind
            if picked is not None and kind not in picked:
                passed.add(account)
    ranked = sorted((a for a in opened if opened[a] != float("-inf")),
                    key=lambda a: (a in passed, -opened[a], a))
    return direct, deposit, ranked
