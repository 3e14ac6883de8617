"""Group commit: the inserts of concurrent requests in one transaction, so they share its cost.

On SQLite a commit costs far more than the rows it carries (the WAL frames of every touched index page, the
write lock, now and then a checkpoint), and writers take turns anyway. The first request to find no batch
in flight writes everything queued by then, its own row included; the others wait for that commit, then
one of them writes what queued up meanwhile. Nobody's answer comes before their own rows are committed.

Where writers also queue for a turn outside this process (SQLite's one writer per file), the batch is taken
only once that turn is held: requests that arrive while the leader waits for it go in with the leader's
rows instead of waiting for a turn of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Ticket(Generic[Item, Result]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write_batch: Callable[[list[Item]], list[Result]], write_one: Callable[[Item], Result],
                 max_batch: int = 64, turn: Callable[[], AbstractContextManager[object]] = nullcontext) -> None:
        """`turn` is held around taking a batch and writing it (both write functions run inside it)."""
        self._write_batch = write_batch
        self._write_one = write_one
        self._turn = turn
        self._max_batch = max_batch
        self._queue: list[_Ticket[Item, Result]] = []
        self._busy = False
        self._turns = threading.Condition()

    def submit(self, item: Item) -> Result:
        ticket: _Ticket[Item, Result] = _Ticket(item)
        with self._turns:
            self._queue.append(ticket)
            while not ticket.done:
                if self._busy:
                    self._turns.wait()
                    continue
                self._busy = True
                self._turns.release()
                try:
                    with self._turn():
                        with self._turns:
                            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                        self._write(batch)
                except BaseException:
                    # No turn came (the gate timed out, say): this request fails, so its rows must not be
                    # written later by another leader without anyone waiting for them.
                    with self._turns:
                        if ticket in self._queue:
                            self._queue.remove(ticket)
                    raise
                finally:
                    self._turns.acquire()
                    self._busy = False
                    self._turns.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _write(self, batch: list[_Ticket[Item, Result]]) -> None:
        try:
            try:
                results = self._write_batch([ticket.item for ticket in batch])
                for ticket, result in zip(batch, results, strict=True):
                    ticket.result, ticket.done = result, True
            except Exception as failure:
                if len(batch) == 1:  # already tried alone: writing it again would only fail again
                    batch[0].error, batch[0].done = failure, True
                    return
                # One bad row must not fail the others: each is tried alone.
                for ticket in batch:
                    try:
                        ticket.result = self._write_one(ticket.item)
                    except Exception as one_exc:  # handed to the request it belongs to
                        ticket.error = one_exc
                    ticket.done = True
        except BaseException as exc:  # interrupted: nobody may wait for a batch that will never commit
            for ticket in batch:
                if not ticket.done:
                    ticket.error, ticket.done = exc, True
            raise
