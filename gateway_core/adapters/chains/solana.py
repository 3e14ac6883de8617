"""The Solana chain client: SOL and USDC, direct mode by signatures, deposit mode by balances.

Direct mode (a shared merchant wallet, one Solana Pay reference per quote): one
`getSignaturesForAddress` per scanned account with `until` = its cursor, then `getTransaction` only for
signatures this process has not read yet. Deposit mode (one derived key per invoice): the owners and
their USDC token accounts are polled with `getMultipleAccounts`, 100 keys a call, and only accounts
whose balance moved are read further, the same way as a direct account, listed with `minContextSlot` at
the balances' slot so that a node behind the others of the endpoint cannot list them without the payment.
Once the buyer picked an asset, only that asset's account is polled every tick; the other one is polled
every `unchosen_every` seconds.

Cursors are per scanned account (scope `<account>`, position `<balance>|<signature>`): the signature is
the newest signature that is finalized with every older one listed since the previous cursor finalized
too. Signatures still in flight are therefore listed again on every read of their account, which is how
their finality is learnt without a `getSignatureStatuses` per tick, and a confirmed transaction that is
later dropped is never a cursor. Signatures no listing of the last scan covered (deposit accounts whose
balance did not move, a dropped transaction) are asked of the cluster by `finality(..., ask_cluster=True)`,
which the deposit job calls on its own schedule (ClusterFinality).

With push (SolanaPush), a full scan names the accounts to subscribe; a notification's account is read by a
narrowed scan (`only`) through the same reads, and an account under a live subscription with nothing in
flight is polled every `push_net_every` seconds instead of every tick. A narrowed scan hands over only the
signatures nobody read before, and moves an account's cursor only when it skipped none of them.

Which accounts a scan reads is planned in solana_accounts; what the listings say of finality is kept in
solana_finality; a transaction's transfers are read by solana_parse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from solders.account import Account

from gateway_core import telemetry
from gateway_core.adapters.chains.solana_accounts import (
    account_balance,
    associated_token_address,
    parse_cursor,
    plan,
)
from gateway_core.adapters.chains.solana_finality import FINAL_CONFIRMATIONS, LISTING_FRESH, Listings
from gateway_core.adapters.chains.solana_parse import observed_transfers
from gateway_core.adapters.chains.solana_push import SolanaPush
from gateway_core.adapters.chains.solana_rpc import (
    MIN_CONTEXT_SLOT_NOT_REACHED,
    RpcError,
    RpcUnavailable,
    SolanaRpc,
)
from gateway_core.ports import ObservedTransfer, ScanResult, TxFinality, WatchedAddress

log = logging.getLogger(__name__)
SIGNATURE_PAGE = 1000  # the server's cap on getSignaturesForAddress
ACCOUNTS_PER_CALL = 100  # the server's cap on getMultipleAccounts
STATUSES_PER_CALL = 256  # the server's cap on getSignatureStatuses
# How often the account of an asset the buyer did not pick is polled. A buyer who picked USDC and sends SOL
# anyway (or the reverse) is seen within this delay instead of the watcher's interval; a payment seen after
# the invoice closed still counts by its block time, as after an RPC outage. Sixty seconds keeps that wait
# short next to an invoice's lifetime while the per-tick poll stays at one account per picked invoice.
UNCHOSEN_EVERY = 60.0
# How often the tick still polls an account under a live push subscription with nothing in flight: the
# safety net for a lost notification, at a fraction of the per-tick cost (push must not cost more calls).
PUSH_NET_EVERY = 30.0
# Solana's slot time: the head's pace while it cannot be read (watcher lag). The watcher polls accounts rather
# than walking slots, so a full scan that completes has read everything up to the head (lag 0); one that fails
# leaves the watcher behind by the slots produced since the last one that completed.
SLOT_SECONDS = 0.4
# Importable from here, where they were first.
__all__ = ["FINAL_CONFIRMATIONS", "LISTING_FRESH", "ClusterFinality", "SolanaChain", "associated_token_address",
           "parse_cursor"]


class SolanaChain:
    """ChainClient for Solana devnet and mainnet."""

    chain = "solana"
    scoped_cursors = True

    def __init__(self, rpcs: Mapping[str, SolanaRpc], usdc_mints: Mapping[str, str],
                 monotonic: Callable[[], float] = time.monotonic, outage_backoff: float = 5.0,
                 max_backoff: float = 300.0, page_size: int = SIGNATURE_PAGE, drop_after: float = 90.0,
                 unchosen_every: float = UNCHOSEN_EVERY, push: SolanaPush | None = None,
                 push_net_every: float = PUSH_NET_EVERY) -> None:
        self.rpcs = dict(rpcs)
        # Push (None: polling only); accounts it covers are polled every `push_net_every` seconds as the net.
        self.push, self.push_net_every = push, push_net_every
        self._net_due: dict[str, float] = {}
        self._scanning = threading.Lock()
        self._unsettled: set[tuple[str, str]] = set()  # accounts with something in flight: polled every tick
        # network -> (accounts a pushed read listed completely since the last full scan began, their listings):
        # the tick skips listing them again (a busy wallet is listed at each notification already), and takes
        # their listings for finality instead.
        self._pushed: dict[str, tuple[set[str], dict[str, dict[str, Any]]]] = {}
        self.page_size, self.drop_after, self.unchosen_every = page_size, drop_after, unchosen_every
        self._unchosen_due: dict[str, float] = {}  # network -> when unpicked deposit accounts are next polled
        self.usdc_mints = dict(usdc_mints)
        self._now = monotonic
        self.lag = telemetry.HeadLag(self.chain, SLOT_SECONDS, lambda: self._now())  # tests swap _now
        self.listings = Listings(lambda: self._now())
        self._backoff, self._max_backoff = outage_backoff, max_backoff
        self._down: dict[str, tuple[float, float]] = {}  # network -> (retry after, current backoff)
        # Signatures already read, with what they credited (most are someone else's activity: empty).
        self._read: OrderedDict[tuple[str, str], tuple[ObservedTransfer, ...]] = OrderedDict()
        self._atas: dict[tuple[str, str], str] = {}

    # -- the protocol ------------------------------------------------------------------------------------------

    def scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None,
             scoped: Mapping[str, str] | None = None,
             only: Mapping[str, tuple[int, Account] | None] | None = None) -> ScanResult:
        """New credits to watched owners; per-account cursors come in `scoped` and go out in `cursors`.

        `only` narrows the scan to accounts a push notification named (with the account state it carried,
        which stands in for the balance poll); a full scan also tells the push which accounts to subscribe.
        """
        # One read of an account at a time (the tick's and the push reader's share this client's state): a
        # narrowed scan holds the lock throughout, a full scan account by account, so a pushed read waits for
        # one account's read of the tick at most (not for a net pass over every account).
        with self._scanning if only is not None else nullcontext():
            return self._scan(network, watched, cursor, scoped or {}, only)

    def _scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None,
              scoped: Mapping[str, str], only: Mapping[str, tuple[int, Account] | None] | None) -> ScanResult:
        found: list[ObservedTransfer] = []
        moved: dict[str, str] = {}
        full = only is None
        if not watched or not self._available(network):
            if full and network in self.rpcs:
                tip = self.listings.tip(network)
                if watched:
                    self.lag.unreadable(network)  # backing off after a failure
                else:
                    self.lag.read(network, tip, tip)  # nothing to be behind on
            return ScanResult(found, cursor, moved)
        rpc, mint = self.rpcs[network], self.usdc_mints[network]
        owners = {w.address for w in watched}
        listed: dict[str, dict[str, Any]] = {}
        now = self._now()
        unchosen = only is not None or now >= self._unchosen_due.get(network, float("-inf"))
        net = only is None and now >= self._net_due.get(network, float("-inf"))
        each = self._scanning if only is None else nullcontext()
        fresh, carried = self._pushed.pop(network, (set(), {})) if only is None else (set(), {})
        listed.update(carried)
        try:
            for account, balance, slot in self._accounts_to_read(network, watched, scoped, unchosen, only, net,
                                                                 fresh):
                position = scoped.get(account)
                with each:
                    transfers, newest = self._read_account(network, rpc, account, (balance, slot), position, owners,
                                                           mint, listed, rehand=only is None)
                found.extend(transfers)
                if newest is not None and newest != position:
                    moved[account] = newest
        except (RpcUnavailable, RpcError) as exc:
            # Keep what was read completely; the rest is read after the backoff, from unchanged cursors.
            log.warning("solana scan interrupted", extra={"network": network, "error": str(exc)})
            self.listings.keep(network, listed, only is not None)
            self._failed(network)
            if full:
                self.lag.unreadable(network)
            return ScanResult(found, cursor, moved)
        self.listings.keep(network, listed, only is not None)
        if only is None:  # only a pass that completed moves the next one on: an interrupted pass is redone
            if unchosen:
                self._unchosen_due[network] = self._now() + self.unchosen_every
            if net:
                self._net_due[network] = self._now() + self.push_net_every
            tip = self.listings.tip(network)
            self.lag.read(network, tip, tip)
        self._down.pop(network, None)
        return ScanResult(found, cursor, moved)

    def close(self) -> None:
        """Close the sockets, the HTTP sessions and the adapter's event loop."""
        if self.push is not None:
            self.push.stop()
        loops = {id(rpc.loop): rpc.loop for rpc in self.rpcs.values()}
        for rpc in self.rpcs.values():
            rpc.close()
        for loop in loops.values():
            loop.close()

    def follow(self, network: str, watched: Collection[WatchedAddress]) -> frozenset[str]:
        """Have push subscribe the accounts of `watched` on `network` (and only those): called by the push
        reader whenever the set of open invoices changed, without a scan or an RPC call. Returns every
        account `watched` names (subscribed or not)."""
        if self.push is None or network not in self.rpcs:
            return frozenset()
        direct, deposit, ranked = plan(watched, self.usdc_mints[network], self.token_account, True)
        self.push.follow(network, ranked)
        return frozenset(direct) | frozenset(deposit)

    def read_all_next(self, network: str) -> None:
        """Make the next full scan poll every account, pushed or not (after a socket was down)."""
        self._net_due.pop(network, None)

    def finality(self, network: str, tx_ids: Sequence[str], ask_cluster: bool = False) -> dict[str, TxFinality]:
        """Finality of signatures from the last scan's listings, at no RPC cost; with `ask_cluster`, the
        signatures no recent listing covered are asked with getSignatureStatuses (256 a call), and one the
        cluster no longer knows was dropped. Without it they are left out (unchanged for this tick).
        """
        if not tx_ids or network not in self.rpcs:
            return {}
        states, unknown = self.listings.known(network, tx_ids)
        if not ask_cluster or not unknown or not self._available(network):
            return states
        try:
            for start in range(0, len(unknown), STATUSES_PER_CALL):
                chunk = unknown[start:start + STATUSES_PER_CALL]
                statuses = self.rpcs[network].signature_statuses(chunk)
                for signature, status in zip(chunk, statuses, strict=True):
                    states[signature] = self.listings.judge(network, signature, status, self.drop_after)
        except (RpcUnavailable, RpcError):
            self._failed(network)
        return states

    def received(self, network: str, owner: str, since: datetime) -> list[ObservedTransfer]:
        """Finalized credits to `owner` (SOL, and tokens to its USDC account) at or after `since`, read from the
        two accounts' whole histories back to then: what reconciliation compares the records with."""
        rpc, mint = self.rpcs[network], self.usdc_mints[network]
        found: list[ObservedTransfer] = []
        done: set[str] = set()
        for account in (owner, self.token_account(owner, mint)):
            options: dict[str, Any] = {"limit": self.page_size, "commitment": "finalized"}
            while True:
                page = rpc.call("getSignaturesForAddress", account, options)
                older = False
                for info in page:
                    if info.get("blockTime") is not None and info["blockTime"] < since.timestamp():
                        older = True
                        break
                    if info.get("err") is not None or info["signature"] in done:
                        continue
                    done.add(info["signature"])
                    tx = rpc.call("getTransaction", info["signature"], {
                        "encoding": "json", "maxSupportedTransactionVersion": 0, "commitment": "finalized"})
                    if tx is None:
                        raise RpcUnavailable(f"getTransaction: {info['signature']} listed final but not served")
                    found.extend(observed_transfers(network, info, tx, {owner}, mint))
                if older or len(page) < self.page_size:
                    break
                options = {**options, "before": page[-1]["signature"]}
        return found

    # -- accounts ---------------------------------------------------------------------------------------------

    def token_account(self, owner: str, mint: str) -> str:
        """Cached associated token address (derivation costs a few hash rounds)."""
        key = (owner, mint)
        if key not in self._atas:
            self._atas[key] = associated_token_address(owner, mint)
        return self._atas[key]

    @staticmethod
    def token_balance(info: Account | None) -> int:
        """Token units in an SPL token account, 0 for a missing account."""
        return account_balance(info, "USDC")

    def _accounts_to_read(self, network: str, watched: Iterable[WatchedAddress], scoped: Mapping[str, str],
                          unchosen: bool = True, only: Mapping[str, tuple[int, Account] | None] | None = None,
                          net: bool = True, fresh: Collection[str] = (),
                          ) -> Iterable[tuple[str, int | None, int | None]]:
        """(account, and for deposit accounts its current balance and that reading's slot) of every account to
        read this tick.

        A deposit owner's SOL account and USDC token account are both polled while the buyer has not picked
        an asset; after a pick, the other one only when `unchosen` (every `unchosen_every` seconds). With push,
        an account under a live subscription with nothing in flight, or that a pushed read listed since the last
        tick (`fresh`), is polled only on `net` passes (every `push_net_every` seconds): a payment to it
        arrives as a notification first, and the pushed read's listing tells the finality of what is in flight.
        """
        direct, deposit, ranked = plan(watched, self.usdc_mints[network], self.token_account, unchosen)
        if only is not None:
            direct = {a: None for a in direct if a in only}
            readings = {a: only[a] for a in deposit if a in only}
            polled = {a: k for a, k in deposit.items() if a in readings and readings[a] is None}
            for account in direct:
                yield account, None, None
            for account, reading in readings.items():
                if reading is None:
                    continue
                slot, state = reading
                balance = account_balance(state, deposit[account])
                known, _ = parse_cursor(scoped.get(account))
                if balance != (known or 0):
                    yield account, balance, slot
            yield from self._changed_balances(network, polled, scoped)
            return
        push = self.push
        if push is not None:
            push.follow(network, ranked)
            if not net:
                def quiet(account: str) -> bool:
                    return push.live(network, account) and (
                        (network, account) not in self._unsettled or account in fresh)
                direct = {a: None for a in direct if not quiet(a)}
                deposit = {a: k for a, k in deposit.items() if not quiet(a)}
        for account in direct:
            yield account, None, None
        yield from self._changed_balances(network, deposit, scoped)

    def _changed_balances(self, network: str, accounts: Mapping[str, str],
                          scoped: Mapping[str, str]) -> Iterable[tuple[str, int, int | None]]:
        """Deposit accounts whose balance differs from the one in their cursor; unchanged ones cost nothing."""
        keys = list(accounts)
        for start in range(0, len(keys), ACCOUNTS_PER_CALL):
            chunk = keys[start:start + ACCOUNTS_PER_CALL]
            slot, infos = self.rpcs[network].accounts(chunk)
            self.listings.saw_slot(network, slot)
            for account, info in zip(chunk, infos, strict=True):
                balance = account_balance(info, accounts[account])
                known, _ = parse_cursor(scoped.get(account))
                if balance != (known or 0):
                    yield account, balance, slot

    def _read_account(self, network: str, rpc: SolanaRpc, account: str, reading: tuple[int | None, int | None],
                      position: str | None, owners: Collection[str], mint: str,
                      listed: dict[str, dict[str, Any]],
                      rehand: bool = True) -> tuple[list[ObservedTransfer], str | None]:
        """Credits in the account's new transactions, and its next cursor (None: keep the old one).

        A deposit account's balance (read at a slot: `reading`) travels in its cursor, so it is stored only
        once every transaction up to that slot was listed and read; otherwise the moved balance is noticed
        again next tick. The listing is asked with `minContextSlot` at the balance's slot: a node of the same
        endpoint that is behind refuses it instead of listing without the payment that moved the balance.
        Every listed entry goes into `listed`, which answers `finality` for this scan.
        """
        balance, slot = reading
        _, until = parse_cursor(position)
        complete, skipped = True, False
        try:
            signatures = self._signatures(rpc, account, until, slot)
        except RpcError as exc:
            if exc.code != MIN_CONTEXT_SLOT_NOT_REACHED:
                raise
            log.info("solana listing behind the balance, read again next tick", extra={"account": account})
            self._unsettled.add((network, account))
            return [], None
        transfers: list[ObservedTransfer] = []
        newest_final = until
        # Oldest first: the cursor stops below the oldest signature not yet finalized, so that one and
        # everything newer are listed again next time, with their confirmation status.
        for info in reversed(signatures):
            if info.get("confirmationStatus") != "finalized":
                break
            newest_final = info["signature"]
        for info in signatures:  # newest first
            listed[info["signature"]] = info
            self.listings.saw_slot(network, info.get("slot"))
            known = self._read.get((network, info["signature"]))
            if known is not None and not rehand:
                # A pushed read brings only what is new; the tick hands the known ones over again. It then
                # leaves the cursor alone: a tick may have read this one and not recorded it yet, and a
                # cursor moved past it would lose it if the process died just then.
                skipped = True
                continue
            if known is not None:
                # Read before: hand its transfers over again rather than trust they were recorded (a failed
                # record must not lose them); recording is idempotent, so this costs no RPC and no duplicate.
                transfers.extend(known)
                continue
            tx = rpc.call("getTransaction", info["signature"],
                          {"encoding": "json", "maxSupportedTransactionVersion": 0, "commitment": "confirmed"})
            if tx is None:
                complete = False  # listed but not yet served by this node: read again next tick
                continue
            observed = observed_transfers(network, info, tx, owners, mint)
            transfers.extend(observed)
            self._remember(network, info["signature"], tuple(observed))
        if not complete or any(i.get("confirmationStatus") != "finalized" for i in signatures):
            self._unsettled.add((network, account))  # polled every tick until nothing of it is in flight
        else:
            self._unsettled.discard((network, account))
        if not rehand and complete:
            accounts, entries = self._pushed.setdefault(network, (set(), {}))
            accounts.add(account)
            entries.update((info["signature"], info) for info in signatures)
        if not complete or skipped:
            return transfers, None
        prefix = "" if balance is None else str(balance)
        return transfers, (f"{prefix}|{newest_final or ''}" if (prefix or newest_final) else None)

    def _signatures(self, rpc: SolanaRpc, account: str, until: str | None,
                    min_slot: int | None = None) -> list[dict[str, Any]]:
        """Signatures newer than `until`, paging with `before` while pages are full, from a node that reached
        `min_slot` (else RpcError MIN_CONTEXT_SLOT_NOT_REACHED).

        Without a cursor only the newest page is read: a new account has no older payments of ours.
        """
        options: dict[str, Any] = {"limit": self.page_size, "commitment": "confirmed"}
        if until:
            options["until"] = until
        if min_slot is not None:
            options["minContextSlot"] = min_slot
        found: list[dict[str, Any]] = []
        while True:
            # A refused page aborts the account's read (raised): a partial list could move its cursor past
            # signatures never read.
            page = rpc.call("getSignaturesForAddress", account, options)
            found.extend(page)
            if len(page) < self.page_size or not until:
                return found
            options = {**options, "before": page[-1]["signature"]}

    def _remember(self, network: str, signature: str, observed: tuple[ObservedTransfer, ...]) -> None:
        self._read[(network, signature)] = observed
        while len(self._read) > 200_000:
            self._read.popitem(last=False)

    # -- outages ----------------------------------------------------------------------------------------------

    def _available(self, network: str) -> bool:
        if network not in self.rpcs:
            return False
        retry_at, _ = self._down.get(network, (0.0, 0.0))
        return self._now() >= retry_at

    def _failed(self, network: str) -> None:
        _, previous = self._down.get(network, (0.0, 0.0))
        pause = min(self._max_backoff, previous * 2 if previous else self._backoff)
        self._down[network] = (self._now() + pause, pause)
        log.warning("solana endpoint down, backing off", extra={"network": network, "seconds": pause})


class ClusterFinality:
    """The Solana client as the deposit job follows payments: signatures that no recent listing covered
    (a deposit account whose balance did not move again, a dropped transaction, a restart) are asked of
    the cluster, off the watcher's per-tick path."""

    def __init__(self, client: SolanaChain) -> None:
        self.client = client
        self.chain = client.chain

    def scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None) -> ScanResult:
        return self.client.scan(network, watched, cursor)

    def finality(self, network: str, tx_ids: Sequence[str]) -> dict[str, TxFinality]:
        return self.client.finality(network, tx_ids, ask_cluster=True)

