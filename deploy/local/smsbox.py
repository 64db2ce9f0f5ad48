"""A local SMS gateway with Kannel's sendsms interface, for a developer machine and the tests:
every SMS it accepts is written to a folder as JSON.

    python -m deploy.local.smsbox serve --port 13013 --dir var/sms
    python -m deploy.local.smsbox code +33612345678      # the newest code texted to that number

Production sets SMS_GATEWAY_URL to the operator's Kannel (or compatible) gateway instead.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


def serve(port: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            if url.path != "/cgi-bin/sendsms":
                self.answer(404, "Not found")
            elif not query.get("to") or not query.get("text"):
                self.answer(400, "Missing receiver or text")  # Kannel answers 4xx for a bad request
            else:
                sms = {"to": query["to"], "from": query.get("from", ""), "text": query["text"]}
                (folder / f"{time.time_ns()}.json").write_text(json.dumps(sms, ensure_ascii=False))
                self.answer(202, "0: Accepted for delivery")

        def answer(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def received(folder: Path, to: str) -> list[dict[str, str]]:
    messages = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return [message for message in messages if message["to"] == to]


def newest_code(folder: Path, to: str) -> str | None:
    for message in reversed(received(folder, to)):
        found = re.search(r"\b(\d{6})\b", message["text"])
        if found:
            return found.group(1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_command = commands.add_parser("serve", help="run the SMS gateway")
    serve_command.add_argument("--port", type=int, required=True)
    serve_command.add_argument("--dir", type=Path, required=True)
    code = commands.add_parser("code", help="print the newest code texted to a number")
    code.add_argument("number")
    code.add_argument("--dir", type=Path, default=Path("var/sms"))
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.dir)
        return
    found = newest_code(args.dir, args.number)
    if found is None:
        raise SystemExit(f"no code for {args.number} in {args.dir}")
    print(found)


if __name__ == "__main__":
    main()
