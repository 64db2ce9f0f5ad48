"""Request bodies, bounded before any route sees them.

Every request's body is read here, whatever the route, counting the bytes as they arrive: past the
limit (a declared Content-Length, or the bytes of a chunked body actually streamed) the answer is 413
at once, and the rest is never read. Then a JSON body (or one without a content type,
which FastAPI reads as JSON) nesting deeper than services/common/jsondepth.MAX_JSON_DEPTH is
refused with a 422 naming the body, before a parser, a validator or an RPC serialiser recurses on it.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import InvalidInput, PayloadTooLarge
from services.common.jsondepth import depth_exceeds, too_deep_reason
from services.gateway import problems

MEASURED_INLINE = 64 * 1024  # longer bodies are measured in a worker thread, off the event loop


def is_json(content_type: str | None, body: bytes) -> bool:
    """Whether the routes will parse the body as JSON (FastAPI does when no content type is given)."""
    if not content_type:
        return bool(body)
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class BoundedBodies:
    """ASGI middleware: reads the body up to `limit` bytes, refuses it when longer or too deep, then
    hands it on unchanged."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self.too_large(
                scope, receive, send
            )  # before reading a byte (nor sending 100 Continue)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                chunks.clear()
                await self.too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        if is_json(Headers(scope=scope).get("content-type"), body):
            deep = (
                depth_exceeds(body)
                if len(body) <= MEASURED_INLINE
                else await run_in_threadpool(depth_exceeds, body)
            )
            if deep:
                error = InvalidInput.for_field("body", too_deep_reason())
                response = problems.problem(
                    Request(scope), 422, error.code, error.message, {"errors": error.details}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, replay(body, receive), send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        """413, and the connection closed after it: the unread rest of the body is never read."""
        error = PayloadTooLarge(
            f"request body exceeds {self.limit} bytes",
            [{"field": "body", "limit": str(self.limit)}],
        )
        response = problems.problem(
            Request(scope), 413, error.code, error.message, {"errors": error.details}
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then the connection's own messages (a disconnect, for the routes
    that watch for one)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
