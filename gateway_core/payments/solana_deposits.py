"""Solana deposit mode: a derived key per invoice, its USDC token account, and the sweep after finality.

A sweep is signed, then recorded (signature, wire bytes, the blockhash's last valid height), committed,
and only then sent. Whoever finds a recorded sweep (a second worker, or this one after a crash) never
builds another while it might still land: it re-sends the same bytes (same signature, so the cluster
keeps one) until the sweep is seen on chain or its blockhash has expired unseen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from solana.rpc.commitment import Finalized
from solders.transaction_status import TransactionConfirmationStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.chains.solana import ClusterFinality, SolanaChain
from gateway_core.adapters.chains.solana_keys import GatewayKeys
from gateway_core.adapters.chains.solana_rpc import RpcError, RpcUnavailable, SolanaRpc
from gateway_core.adapters.chains.solana_tx import (
    TOKEN_ACCOUNT_RENT_LAMPORTS,
    create_token_account,
    plan_sweep,
    sign,
    sweep_instructions,
)
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, SolanaDeposit, SolanaSweep, Store
from gateway_core.domain.errors import VaultInitializationFailed
from gateway_core.domain.lifecycle import Status
from gateway_core.payments.allocation import NewInvoice
from gateway_core.payments.assess import emit, lock_invoice, move
from gateway_core.payments.transfers import refresh_finality
from gateway_core.ports import Clock

log = logging.getLogger(__name__)
UowFactory = Callable[[], UnitOfWork]


@dataclass
class SolanaTreasury:
    """The gateway's keys and endpoints: what deposit mode needs to open, watch and empty deposits."""

    keys: GatewayKeys
    chain: SolanaChain
    low_balance_lamports: int = 50_000_000

    def rpc(self, network: str) -> SolanaRpc:
        return self.chain.rpcs[network]

    def mint(self, network: str) -> str:
        return self.chain.usdc_mints[network]

    # -- invoice creation -----------------------------------------------------------------------------------

    def allocate(self, session: Session, invoice: NewInvoice) -> None:
        """Deposit mode: derive the invoice's key and open its USDC token account (fee payer pays the rent)."""
        quotes = [q for q in invoice.quotes if q["chain"] == "solana"]
        if invoice.settlement_mode != "deposit" or not quotes:
            return
        deposit = SolanaDeposit(invoice_id=invoice.id, network=invoice.network, owner=f"?{invoice.number}")
        session.add(deposit)
        session.flush()  # the row id is the derivation index
        owner = str(self.keys.deposit(deposit.id).pubkey())
        deposit.owner = owner
        for quote in quotes:
            quote["address"] = owner
        if any(q["asset"] == "USDC" for q in quotes):
            deposit.token_account = self.chain.token_account(owner, self.mint(invoice.network))
            deposit.init_tx_id = self._open_token_account(invoice.network, owner)
            deposit.rent_lamports = TOKEN_ACCOUNT_RENT_LAMPORTS
        session.flush()

    def _open_token_account(self, network: str, owner: str) -> str:
        payer = self.keys.fee_payer()
        try:
            blockhash, _ = self.rpc(network).latest_blockhash()
            tx = sign([create_token_account(payer.pubkey(), owner, self.mint(network))], payer, [], blockhash)
            self.rpc(network).call("sendTransaction", tx.raw, {"encoding": "base64",
                                                                "preflightCommitment": "confirmed"})
        except (RpcError, RpcUnavailable) as exc:
            log.error("deposit token account not created", extra={"network": network, "error": str(exc)})
            raise VaultInitializationFailed("Failed to create on-chain payment address") from None
        return tx.signature

    # -- fee payer --------------------------------------------------------------------------------------------

    def check_fee_payer(self, network: str) -> int | None:
        """The fee payer's balance; logged as an operator alert when below the threshold."""
        address = str(self.keys.fee_payer().pubkey())
        try:
            lamports = self.rpc(network).balance(address)
        except (RpcError, RpcUnavailable):
            return None
        if lamports < self.low_balance_lamports:
            log.error("fee payer balance low: deposit accounts and sweeps will fail",
                      extra={"alert": "fee_payer_low_balance", "network": network, "fee_payer": address,
                             "lamports": lamports, "threshold": self.low_balance_lamports})
        return lamports

    # -- finality ---------------------------------------------------------------------------------------------

    def follow_payments(self, uow_factory: UowFactory, clock: Clock) -> int:
        """Finality of the Solana payments in flight that the watcher's listings did not report: one
        getSignatureStatuses per 256 of them. Returns how many payments moved.

        The watch tick learns finality only from the signatures it lists anyway, so that its cost stays one
        poll per 100 deposit accounts plus the accounts that changed. A deposit payment's account is not
        listed again once its balance stops moving, and a dropped transaction is listed nowhere: both are
        followed here, every sweep run. That is about as often as Solana finalizes (~13 s), and a deposit's
        finality matters first to its sweep, which this same run then builds.
        """
        client = ClusterFinality(self.chain)
        return sum(refresh_finality(uow_factory, client, network, clock) for network in self.chain.rpcs)

    # -- sweeps -----------------------------------------------------------------------------------------------

    def sweep_due(self, uow_factory: UowFactory, clock: Clock, limit: int = 50) -> int:
        """Follow payments in flight to finality, then advance every confirmed deposit invoice's sweep by one
        step; returns how many settled."""
        self.follow_payments(uow_factory, clock)
        with uow_factory() as uow:
            ids = list(uow.session.execute(
                select(Invoice.id).join(SolanaDeposit, SolanaDeposit.invoice_id == Invoice.id)
                .join(Store, Store.id == Invoice.store_id)
                .where(Invoice.status == Status.CONFIRMED.value, Store.settlement_mode == "deposit",
                       SolanaDeposit.network.in_(list(self.chain.rpcs)))
                .order_by(Invoice.id).limit(limit)
            ).scalars())
        settled = 0
        for invoice_id in ids:
            try:
                settled += self._step(uow_factory, invoice_id, clock)
            except (RpcError, RpcUnavailable) as exc:
                log.warning("sweep step failed; retried next run", extra={"invoice_id": invoice_id,
                                                                          "error": str(exc)})
            except Exception:
                # One deposit that cannot be swept (no wallet, a changed seed) must not hold up the others.
                log.exception("sweep step failed", extra={"invoice_id": invoice_id})
        return settled

    def _step(self, uow_factory: UowFactory, invoice_id: int, clock: Clock) -> bool:
        with uow_factory() as uow:
            invoice = lock_invoice(uow.session, invoice_id)
            if invoice.status != Status.CONFIRMED.value:
                return False
            sweep = _latest_sweep(uow.session, invoice_id)
            network = invoice.network
            if sweep is not None and sweep.status in ("sent", "done"):
                outcome = self._follow(network, sweep)
                if outcome == "done":
                    sweep.status = "done"
                    invoice.auto_process_tx_id = sweep.tx_id
                    move(uow.session, invoice, Status.SETTLED, clock.now())
                    log.info("deposit swept", extra={"invoice": invoice.number, "tx_id": sweep.tx_id})
                    return True
                if outcome in ("expired", "failed"):
                    sweep.status = outcome
                return False  # "sent": re-sent the same bytes, or still landing
            deposit = uow.session.execute(
                select(SolanaDeposit).where(SolanaDeposit.invoice_id == invoice_id)).scalar_one()
            built = self._build(network, invoice, deposit, (sweep.attempt + 1) if sweep else 1)
            if built is None:
                return False
            uow.session.add(built)
            emit(uow.session, invoice, "invoice.sweep_sent", clock.now(), tx_id=built.tx_id, attempt=built.attempt)
            raw = built.raw_tx
        # Committed first: from here on this sweep is known, whatever happens to this process.
        self._send(network, raw)
        return False

    def _follow(self, network: str, sweep: SolanaSweep) -> str:
        """done | failed | expired | sent, from the sweep's on-chain status."""
        rpc = self.rpc(network)
        status = rpc.signature_statuses([sweep.tx_id])[0]
        if status is not None:
            if status.err is not None:
                sweep.last_error = str(status.err)
                return "failed"
            return "done" if status.confirmation_status == TransactionConfirmationStatus.Finalized else "sent"
        if rpc.block_height() > sweep.last_valid_block_height:
            return "expired"  # it can never land now: building a new one cannot pay twice
        self._send(network, sweep.raw_tx)
        return "sent"

    def _build(self, network: str, invoice: Invoice, deposit: SolanaDeposit, attempt: int) -> SolanaSweep | None:
        rpc, mint = self.rpc(network), self.mint(network)
        owner = self.keys.deposit(deposit.id)
        if str(owner.pubkey()) != deposit.owner:
            raise RuntimeError("GATEWAY_SEED does not derive this deposit's key")  # never sweep with a wrong seed
        token_account = deposit.token_account or self.chain.token_account(deposit.owner, mint)
        _, accounts = rpc.accounts([deposit.owner, token_account], Finalized)
        lamports = accounts[0].lamports if accounts[0] else 0
        tokens = self.chain.token_balance(accounts[1])
        plan = plan_sweep(lamports, tokens, accounts[1] is not None, invoice.store.platform_fee_percent)
        if plan.empty:
            return None
        store = invoice.store
        # Each asset to its own wallet; a store that takes one asset gets the other (a wrong-asset payment) there too.
        sol_wallet = store.wallet_for("SOL") or store.wallet_for("USDC")
        usdc_wallet = store.wallet_for("USDC") or store.wallet_for("SOL")
        if sol_wallet is None or usdc_wallet is None:
            raise RuntimeError("deposit store has no Solana destination wallet")
        payer = self.keys.fee_payer()
        instructions = sweep_instructions(plan, owner.pubkey(), payer.pubkey(), sol_wallet, usdc_wallet, mint,
                                          token_account)
        blockhash, last_valid = rpc.latest_blockhash()
        tx = sign(instructions, payer, [owner], blockhash)
        return SolanaSweep(invoice_id=invoice.id, attempt=attempt, status="sent", tx_id=tx.signature, raw_tx=tx.raw,
                           last_valid_block_height=last_valid,
                           sol_amount=plan.sol_to_merchant, token_amount=plan.token_to_merchant,
                           fee_amount=plan.sol_fee + plan.token_fee)

    def _send(self, network: str, raw: str) -> None:
        try:
            self.rpc(network).call("sendTransaction", raw, {"encoding": "base64", "preflightCommitment": "confirmed"})
        except RpcError as exc:
            # Refused at preflight: it never reaches the cluster, and expires like a lost send.
            log.warning("sweep refused by the endpoint", extra={"error": exc.message})
        except RpcUnavailable:
            pass  # re-sent on the next run while its blockhash is valid


def _latest_sweep(session: Session, invoice_id: int) -> SolanaSweep | None:
    return session.execute(
        select(SolanaSweep).where(SolanaSweep.invoice_id == invoice_id).order_by(SolanaSweep.attempt.desc()).limit(1)
    ).scalar_one_or_none()
