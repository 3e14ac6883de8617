"""A fake Solana JSON-RPC server on 127.0.0.1: a real HTTP server over a small ledger.

Answers are built from solders' typed RPC responses (so their JSON has the documented shapes), and
transactions sent to it are decoded, verified and executed by tests.fakes.solana_ledger. Faults can be
queued per request (timeout, 429, 500, malformed JSON) to stand in for an outage, and a method's next
answers can come from a backend behind the others (`lag`), as behind a load-balanced endpoint: it sees
the ledger as of an older slot, and refuses a request whose `minContextSlot` it has not reached (-32016).
Transactions are served in the `json` and `jsonParsed` encodings, legacy or v0 (with `loadedAddresses`).
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from solders.account import Account as SoldersAccount
from solders.account_decoder import UiTokenAmount
from solders.hash import Hash
from solders.message import MessageHeader
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetBlockHeightResp,
    GetLatestBlockhashResp,
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetSlotResp,
    GetTransactionResp,
    RpcBlockhash,
    RpcConfirmedTransactionStatusWithSignature,
    RpcResponseContext,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import Legacy
from solders.transaction_status import (
    EncodedConfirmedTransactionWithStatusMeta,
    EncodedTransactionWithStatusMeta,
    InstructionErrorCustom,
    ParsedAccount,
    ParsedAccountSource,
    ParsedInstruction,
    TransactionConfirmationStatus,
    TransactionErrorInstructionError,
    TransactionStatus,
    UiAddressTableLookup,
    UiCompiledInstruction,
    UiInnerInstructions,
    UiLoadedAddresses,
    UiParsedMessage,
    UiPartiallyDecodedInstruction,
    UiRawMessage,
    UiTransaction,
    UiTransactionStatusMeta,
    UiTransactionTokenBalance,
)

from gateway_core.adapters.chains.solana_parse import TOKEN_PROGRAM
from tests.fakes.solana_ledger import Account, Ledger, Parsed, TxFailed, TxRecord, _ui_amount

MAX_ACCOUNTS = 100
MAX_SIGNATURES = 1000
_FAILED = TransactionErrorInstructionError(0, InstructionErrorCustom(1))
_TOKEN_PROGRAM_ID = Pubkey.from_string(TOKEN_PROGRAM)


MIN_CONTEXT_SLOT_NOT_REACHED = -32016


class RpcRefused(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _token_data(acct: Account) -> bytes:
    """The 165-byte SPL token account layout: mint, owner, amount, delegate, state, native, delegated, close."""
    assert acct.mint and acct.owner
    return (bytes(Pubkey.from_string(acct.mint)) + bytes(Pubkey.from_string(acct.owner))
            + struct.pack("<Q", acct.amount) + b"\x00" * 36 + b"\x01" + b"\x00" * 12 + b"\x00" * 8 + b"\x00" * 36)


def _solders_account(acct: Account | None) -> SoldersAccount | None:
    if acct is None or (acct.mint is None and acct.lamports == 0):
        return None  # a system account with no lamports does not exist
    if acct.mint is not None:
        return SoldersAccount(acct.lamports, _token_data(acct), _TOKEN_PROGRAM_ID)
    return SoldersAccount(acct.lamports, b"", SYSTEM_PROGRAM_ID)


def _status(record: TxRecord) -> TransactionConfirmationStatus:
    return TransactionConfirmationStatus.Finalized if record.finalized else TransactionConfirmationStatus.Confirmed


class FakeSolanaRpc:
    """Run with `with FakeSolanaRpc(...) as fake: fake.url`; inspect `fake.calls` per method."""

    def __init__(self, mints: dict[str, int] | None = None) -> None:
        self.ledger = Ledger(mint_decimals=dict(mints or {}))
        self.calls: Counter[str] = Counter()
        self.polled: list[str] = []  # every account asked for by getMultipleAccounts, in order
        self.faults: deque[str] = deque()
        self.outage: str | None = None  # a fault applied to every request until cleared
        self.method_faults: dict[str, deque[str]] = {}
        self.sent: list[str] = []  # signatures received by sendTransaction
        self.behind: dict[str, deque[int]] = {}  # method -> slots its next answers are served at (a lagging node)
        self.refusing = False  # see refuse()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self) -> FakeSolanaRpc:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def refuse(self) -> None:
        """The endpoint's host goes down: the listening socket closes (new connections are refused) and
        connections kept alive are dropped at their next request, until `listen_again`."""
        self.refusing = True
        self._server.shutdown()
        self._server.server_close()

    def listen_again(self) -> None:
        """Back on the same port."""
        port = self._server.server_address[1]
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.refusing = False

    def fail(self, method: str, *faults: str) -> None:
        """Queue faults for the next requests of one method only (e.g. lose a sendTransaction)."""
        self.method_faults.setdefault(method, deque()).extend(faults)

    def lag(self, method: str, calls: int = 1, slots: int = 1) -> None:
        """The next `calls` requests of `method` reach a node `slots` behind the ledger as it is now."""
        self.behind.setdefault(method, deque()).extend([self.ledger.slot - slots] * calls)

    def _view_slot(self, method: str, config: dict[str, Any] | None) -> int | None:
        """The slot a lagging node answers at (None: up to date); it refuses a minContextSlot beyond it."""
        queue = self.behind.get(method)
        if not queue:
            return None
        slot = queue.popleft()
        wanted = (config or {}).get("minContextSlot")
        if wanted is not None and int(wanted) > slot:
            raise RpcRefused(MIN_CONTEXT_SLOT_NOT_REACHED, "Minimum context slot has not been reached",
                             {"contextSlot": slot})
        return slot

    def _method_fault(self, body: bytes) -> str | None:
        try:
            method = json.loads(body).get("method")
        except ValueError:
            return None
        queue = self.method_faults.get(method)
        return queue.popleft() if queue else None

    # -- dispatch ---------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints allow
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if fake.refusing:  # a kept-alive connection to a host that went down: dropped, no answer
                    self.close_connection = True
                    return
                fault = fake.outage or (fake.faults.popleft() if fake.faults else None) or fake._method_fault(body)
                if fault == "timeout":
                    time.sleep(1.0)
                    return self._send(200, b'{"jsonrpc":"2.0","result":null,"id":0}')
                if fault in ("429", "500", "503"):
                    return self._send(int(fault), b'{"jsonrpc":"2.0","error":{"code":429,"message":"Too many"}}')
                if fault == "malformed":
                    return self._send(200, b'{"jsonrpc":"2.0","result":[{"signa')
                self._send(200, fake.answer(body))

            def _send(self, code: int, payload: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def answer(self, body: bytes) -> bytes:
        request = json.loads(body)
        method, params = request["method"], request.get("params", [])
        self.calls[method] += 1
        try:
            handler = getattr(self, f"_rpc_{method}")
        except AttributeError:
            return self._error(request, -32601, "Method not found")
        try:
            text = handler(*params)
        except RpcRefused as exc:
            return self._error(request, exc.code, exc.message, exc.data)
        payload = json.loads(text)
        payload["id"] = request["id"]
        return json.dumps(payload).encode()

    @staticmethod
    def _error(request: dict[str, Any], code: int, message: str, data: Any = None) -> bytes:
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        return json.dumps({"jsonrpc": "2.0", "error": error, "id": request.get("id")}).encode()

    def _context(self) -> RpcResponseContext:
        return RpcResponseContext(self.ledger.slot)

    # -- methods ----------------------------------------------------------------------------------------------

    def _rpc_getSlot(self, config: dict[str, Any] | None = None) -> str:
        return GetSlotResp(self.ledger.slot).to_json()

    def _rpc_getBlockHeight(self, config: dict[str, Any] | None = None) -> str:
        return GetBlockHeightResp(self.ledger.slot).to_json()

    def _rpc_getLatestBlockhash(self, config: dict[str, Any] | None = None) -> str:
        blockhash, last_valid = self.ledger.blockhash()
        return GetLatestBlockhashResp(RpcBlockhash(Hash.from_string(blockhash), last_valid), self._context()).to_json()

    def _rpc_getBalance(self, address: str, config: dict[str, Any] | None = None) -> str:
        acct = self.ledger.accounts.get(address)
        return GetBalanceResp(acct.lamports if acct else 0, self._context()).to_json()

    def _rpc_getAccountInfo(self, address: str, config: dict[str, Any] | None = None) -> str:
        self._base64_only(config)
        return GetAccountInfoResp(_solders_account(self.ledger.accounts.get(address)), self._context()).to_json()

    def _rpc_getMultipleAccounts(self, addresses: list[str], config: dict[str, Any] | None = None) -> str:
        if len(addresses) > MAX_ACCOUNTS:
            raise RpcRefused(-32602, f"Too many inputs provided; max {MAX_ACCOUNTS}")
        self._base64_only(config)
        self.polled.extend(addresses)
        with self.ledger.lock:
            values = [_solders_account(self.ledger.accounts.get(a)) for a in addresses]
        return GetMultipleAccountsResp(values, self._context()).to_json()

    @staticmethod
    def _base64_only(config: dict[str, Any] | None) -> None:
        if (config or {}).get("encoding", "base64") != "base64":
            raise RpcRefused(-32602, "this fake serves base64 account data only")

    def _rpc_getSignaturesForAddress(self, address: str, config: dict[str, Any] | None = None) -> str:
        config = config or {}
        commitment = config.get("commitment", "finalized")
        if commitment not in ("confirmed", "finalized"):
            raise RpcRefused(-32602, "Method does not support commitment below `confirmed`")
        limit = int(config.get("limit", MAX_SIGNATURES))
        if not 1 <= limit <= MAX_SIGNATURES:
            raise RpcRefused(-32602, "Invalid limit; max 1000")
        view = self._view_slot("getSignaturesForAddress", config)
        records = self.ledger.signatures_for(address, config.get("before"), config.get("until"), limit,
                                             commitment == "finalized", view)
        return GetSignaturesForAddressResp([
            RpcConfirmedTransactionStatusWithSignature(
                Signature.from_string(r.signature), r.slot, _FAILED if r.err else None, None, r.block_time,
                _status(r))
            for r in records
        ]).to_json()

    def _rpc_getSignatureStatuses(self, signatures: list[str], config: dict[str, Any] | None = None) -> str:
        if len(signatures) > 256:
            raise RpcRefused(-32602, "Too many inputs provided; max 256")
        values = []
        for signature in signatures:
            record = self.ledger.txs.get(signature)
            if record is None or record.dropped:
                values.append(None)
                continue
            confirmations = None if record.finalized else max(1, self.ledger.slot - record.slot)
            values.append(TransactionStatus(record.slot, confirmations, None, _FAILED if record.err else None,
                                            _status(record)))
        return GetSignatureStatusesResp(values, self._context()).to_json()

    def _rpc_getTransaction(self, signature: str, config: dict[str, Any] | None = None) -> str:
        config = config or {}
        encoding = config.get("encoding", "json")
        if encoding not in ("json", "jsonParsed"):
            raise RpcRefused(-32602, "this fake serves json and jsonParsed transactions only")
        view = self._view_slot("getTransaction", config)
        record = self.ledger.txs.get(signature)
        if record is None or record.dropped or (config.get("commitment") == "finalized" and not record.finalized) \
                or (view is not None and record.slot > view):
            return GetTransactionResp(None).to_json()
        if record.version is not None and config.get("maxSupportedTransactionVersion") is None:
            raise RpcRefused(-32015, "Transaction version (0) is not supported by the requesting client. Please try"
                                     " the request again with the following configuration parameter:"
                                     " \"maxSupportedTransactionVersion\": 0")
        encoded = self._encoded(record) if encoding == "jsonParsed" else self._raw(record)
        return GetTransactionResp(encoded).to_json()

    def _rpc_sendTransaction(self, raw: str, config: dict[str, Any] | None = None) -> str:
        config = config or {}
        if config.get("encoding") != "base64":
            raise RpcRefused(-32602, "this fake expects base64 transactions")
        try:
            signature = self.ledger.submit(base64.b64decode(raw), bool(config.get("skipPreflight")))
        except TxFailed as exc:
            raise RpcRefused(-32002, f"Transaction simulation failed: {exc}") from None
        except Exception as exc:  # signature verification and decoding failures
            raise RpcRefused(-32003, f"Transaction signature verification failure: {exc}") from None
        self.sent.append(signature)
        return SendTransactionResp(Signature.from_string(signature)).to_json()

    # -- jsonParsed transaction -------------------------------------------------------------------------------

    def _encoded(self, record: TxRecord) -> EncodedConfirmedTransactionWithStatusMeta:
        keys = [ParsedAccount(Pubkey.from_string(k), w, s, ParsedAccountSource.Transaction if i < record.static
                              else ParsedAccountSource.LookupTable) for i, (k, s, w) in enumerate(record.keys)]

        def rendered(ins: Parsed) -> Any:
            if ins.program is not None:
                return ParsedInstruction(ins.program, Pubkey.from_string(ins.program_id), ins.parsed, None)
            return UiPartiallyDecodedInstruction(Pubkey.from_string(ins.program_id),
                                                 [Pubkey.from_string(a) for a in ins.accounts], _b58(ins.data), None)

        message = UiParsedMessage(keys, Hash.from_string(record.blockhash),
                                  [rendered(i) for i in record.instructions], self._lookups(record))
        transaction = UiTransaction([Signature.from_string(record.signature)], message)
        inner = [UiInnerInstructions(n, [rendered(i) for i in ins.inner])
                 for n, ins in enumerate(record.instructions) if ins.inner]
        return self._with_meta(record, transaction, None, inner)

    def _raw(self, record: TxRecord) -> EncodedConfirmedTransactionWithStatusMeta:
        """The `json` encoding: the message as sent (static keys, compiled instructions, table lookups)."""
        keys = [k for k, _, _ in record.keys]
        index = {k: i for i, k in reversed(list(enumerate(keys)))}

        def compiled(ins: Parsed) -> UiCompiledInstruction:
            return UiCompiledInstruction(index[ins.program_id], bytes(index[a] for a in ins.accounts), _b58(ins.data),
                                         None)

        nsig, ro_signed, ro_unsigned = record.header
        message = UiRawMessage(MessageHeader(nsig, ro_signed, ro_unsigned),
                               [Pubkey.from_string(k) for k in keys[:record.static]],
                               Hash.from_string(record.blockhash), [compiled(i) for i in record.instructions],
                               self._lookups(record))
        transaction = UiTransaction([Signature.from_string(record.signature)], message)
        inner = [UiInnerInstructions(n, [compiled(i) for i in ins.inner])
                 for n, ins in enumerate(record.instructions) if ins.inner]
        writable, readonly = record.loaded
        loaded = UiLoadedAddresses([Pubkey.from_string(k) for k in writable], [Pubkey.from_string(k) for k in readonly])
        return self._with_meta(record, transaction, loaded, inner)

    @staticmethod
    def _lookups(record: TxRecord) -> list[UiAddressTableLookup] | None:
        if record.version is None:
            return None
        return [UiAddressTableLookup(Pubkey.from_string(t.table), bytes(t.writable_indexes), bytes(t.readonly_indexes))
                for t in record.lookups]

    def _with_meta(self, record: TxRecord, transaction: UiTransaction, loaded: UiLoadedAddresses | None,
                   inner: list[UiInnerInstructions] | None = None) -> EncodedConfirmedTransactionWithStatusMeta:
        meta = UiTransactionStatusMeta(
            _FAILED if record.err else None, record.fee, record.pre, record.post, inner or [], [],
            self._token_balances(record.pre_tokens), self._token_balances(record.post_tokens), [],
            loaded if record.version is not None else None, None, None)
        version = Legacy.Legacy if record.version is None else record.version
        return EncodedConfirmedTransactionWithStatusMeta(
            record.slot, EncodedTransactionWithStatusMeta(transaction, meta, version), record.block_time)

    def _token_balances(self, balances: dict[int, Account]) -> list[UiTransactionTokenBalance]:
        out = []
        for index, acct in sorted(balances.items()):
            decimals = self.ledger.mint_decimals.get(acct.mint or "", 0)
            ui = _ui_amount(acct.amount, decimals)
            out.append(UiTransactionTokenBalance(
                index, Pubkey.from_string(acct.mint or ""), UiTokenAmount(float(ui), decimals, str(acct.amount), ui),
                Pubkey.from_string(acct.owner or ""), _TOKEN_PROGRAM_ID))
        return out


_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58(data: bytes) -> str:
    """Base58 for partially decoded instruction data (the RPC's encoding for unknown programs)."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _ALPHABET[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out
