"""A local SMTP server for a developer machine: every mail it receives is written to a folder.

    python -m deploy.local.mailbox serve --port 1025 --dir var/mail
    python -m deploy.local.mailbox code camille@example.org     # the newest login code mailed to them

Production sets SMTP_HOST instead.
"""

from __future__ import annotations

import argparse
import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FolderHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        # Like a real relay with an unknown mailbox: a permanent refusal, for tests of dead letters.
        if address.lower().endswith("@invalid.dmp-test.fr"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        name = f"{time.time_ns()}.eml"
        (self.folder / name).write_bytes(envelope.content)
        print(
            f"mail to {len(envelope.rcpt_tos)} recipient(s): {message['Subject']} -> {self.folder / name}",
            flush=True,
        )
        return "250 Message accepted for delivery"


def newest_code(folder: Path, address: str) -> str | None:
    for path in sorted(folder.glob("*.eml"), reverse=True):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address and isinstance(message, EmailMessage):
            found = re.search(
                r"connexion[^:]*:\s*(\d{6})|login code[^:]*:\s*(\d{6})", message.get_content()
            )
            if found:
                return found.group(1) or found.group(2)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SMTP server")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--dir", type=Path, required=True)
    code = commands.add_parser("code", help="print the newest login code mailed to an address")
    code.add_argument("address")
    code.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    if args.command == "code":
        found = newest_code(args.dir, args.address)
        if found is None:
            raise SystemExit(f"no login code for {args.address} in {args.dir}")
        print(found)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(FolderHandler(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
