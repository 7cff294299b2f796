"""The Bot API's HTTP client: python-telegram-bot's ``BaseRequest`` on aiohttp.

Why not PTB's default (httpx): issue 19's profile under load gave the HTTP client the
largest share of the bot's CPU. On loopback, httpx spends 1.0-1.5 ms of CPU per Bot API
call, aiohttp 0.12-0.19 ms (its HTTP parser is C, and its pool hands out a kept-alive
connection without checking every pooled one first). aiohttp is a dependency already
(the webhook server, matrix-nio).

Errors are mapped as PTB maps httpx's, so everything above sees the same exceptions: a
timeout is :class:`~telegram.error.TimedOut`, any other client error
:class:`~telegram.error.NetworkError`. The timeout's ``__cause__`` says which one it was:
:class:`ReadTimeout` when the whole request went out and its answer never came (Telegram
may have done it: :func:`adapters.telegram.pacing.answer_lost`), anything else when the
request never reached Telegram (connecting, or waiting for a pooled connection).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)


class ReadTimeout(Exception):
    """The request was written whole; no answer came in time."""


class ConnectTimeout(Exception):
    """No connection in time (connecting, or every pooled connection busy): nothing was
    sent."""


def _seconds(value: Any, default: float | None) -> float | None:
    """PTB passes ``DEFAULT_NONE`` for "the request object's own default"."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session and connection pool for one kind of call (PTB keeps one for
    getUpdates' long poll and one for everything else)."""

    __slots__ = ("_connect_timeout", "_pool_size", "_pool_timeout", "_read_timeout",
                 "_session", "_write_timeout")

    def __init__(self, *, connection_pool_size: int = 16, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = _seconds(read_timeout, self._read_timeout)
        connect = _seconds(connect_timeout, self._connect_timeout)
        pool = _seconds(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            # aiohttp's "connect" includes the wait for a pooled connection
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(method, url, data=_body(request_data),
                                             timeout=timeout, allow_redirects=False) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as err:
            raise TimedOut("Timed out: no connection to the Bot API") from ConnectTimeout(str(err))
        except (TimeoutError, aiohttp.SocketTimeoutError) as err:
            raise TimedOut() from ReadTimeout(str(err) or "read timed out")
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """What PTB's httpx request sends: the parameters form-encoded (each value already
    JSON), multipart when there are files."""
    if request_data is None:
        return None
    params = request_data.json_parameters
    files = request_data.multipart_data if request_data.contains_files else None
    if not files:
        return params
    form = aiohttp.FormData(quote_fields=False)  # a UTF-8 file name as httpx sends it
    for name, value in params.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
