"""Reading TRON receipts and block bodies: only successful transfers to watched addresses, decoded exactly."""

from __future__ import annotations

from tronpy.abi import trx_abi
from tronpy.keys import to_hex_address

from gateway_core.adapters.chains.tron_blocks import (
    TRANSFER_FROM_SELECTOR,
    Watch,
    from_block,
    from_receipt,
    hex20,
)
from tests.fakes.trongrid import (
    NILE_USDT,
    OTHER_TOKEN,
    PAYER,
    FakeTx,
    contract_trx_payout,
    trc20_transfer,
    trx_transfer,
    tx_body,
)

SHOP = "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
STRANGER = "TGkWdpawVNfeset3P6uTBbLaPY7nZVZvXY"
WATCH = Watch("devnet", frozenset({hex20(SHOP)}), hex20(NILE_USDT), head=1010)


def block_of(*txs: FakeTx) -> dict:
    return {"block_header": {"raw_data": {"number": 1001, "timestamp": 1_768_481_403_000}},
            "transactions": [tx.body for tx in txs]}


def test_receipt_transfer_log_is_decoded_with_its_identity_and_confirmations() -> None:
    tx = trc20_transfer(1001, SHOP, 123_456_789)
    (found,) = from_receipt(WATCH, tx.info, final=True)
    assert (found.tx_id, found.transfer_index, found.asset, found.amount) == (tx.id, 0, "USDT", 123_456_789)
    assert (found.to_address, found.from_address) == (SHOP, PAYER)
    assert found.final and found.confirmations == 10 and found.block_time.tzinfo is not None


def test_receipts_of_failed_calls_strangers_and_plain_trx_yield_nothing() -> None:
    for tx in (trc20_transfer(1001, SHOP, 5, result="REVERT"), trc20_transfer(1001, STRANGER, 5),
               trx_transfer(1001, SHOP, 5)):
        assert list(from_receipt(WATCH, tx.info, final=True)) == []


def test_other_tokens_and_contract_trx_are_reported_under_their_own_asset() -> None:
    token = list(from_receipt(WATCH, trc20_transfer(1001, SHOP, 9, token=OTHER_TOKEN).info, final=True))
    payout = list(from_receipt(WATCH, contract_trx_payout(1001, SHOP, 7_000_000).info, final=True))
    assert [(t.asset, t.amount) for t in token] == [("TRC20", 9)]
    assert [(t.asset, t.amount, t.transfer_index) for t in payout] == [("TRX", 7_000_000, 10_000)]


def test_block_body_sights_direct_usdt_calls_and_plain_trx_with_the_receipt_identity() -> None:
    usdt, trx = trc20_transfer(1001, SHOP, 25_000_000), trx_transfer(1001, SHOP, 3_000_000)
    sightings = {t.tx_id: t for t in from_block(WATCH, block_of(usdt, trx, trc20_transfer(1001, STRANGER, 1)))}
    assert set(sightings) == {usdt.id, trx.id}
    (logged,) = from_receipt(WATCH, usdt.info, final=True)
    early = sightings[usdt.id]
    assert (early.transfer_index, early.amount, early.asset, early.final) == (logged.transfer_index, logged.amount,
                                                                              "USDT", False)
    assert (sightings[trx.id].asset, sightings[trx.id].amount) == ("TRX", 3_000_000)


def test_block_body_reads_transfer_from_and_skips_reverts_other_tokens_and_bad_call_data() -> None:
    data = TRANSFER_FROM_SELECTOR + bytes(trx_abi.encode(["address", "address", "uint256"],
                                                         [STRANGER, SHOP, 42])).hex()
    pulled = FakeTx(tx_body("aa" * 32, 1001, "TriggerSmartContract",
                          {"data": data, "owner_address": to_hex_address(PAYER),
                           "contract_address": to_hex_address(NILE_USDT)}, "SUCCESS"), {})
    garbled = FakeTx(tx_body("bb" * 32, 1001, "TriggerSmartContract",
                           {"data": "a9059cbb" + "zz" * 10, "owner_address": to_hex_address(PAYER),
                            "contract_address": to_hex_address(NILE_USDT)}, "SUCCESS"), {})
    reverted = trc20_transfer(1001, SHOP, 5, result="REVERT")
    other = trc20_transfer(1001, SHOP, 5, token=OTHER_TOKEN)  # the receipt reports it once solidified
    found = list(from_block(WATCH, block_of(pulled, garbled, reverted, other)))
    assert [(t.tx_id, t.from_address, t.amount) for t in found] == [("aa" * 32, STRANGER, 42)]
    assert list(from_block(WATCH, {"block_header": {"raw_data": {"number": 5, "timestamp": 0}}})) == []
