"""A local SMTP server for a developer machine: every mail it receives is written to a folder.

`python -m deploy.local.mailbox --port 1025 --dir var/mail`; production sets SMTP_HOST instead.
"""

from __future__ import annotations

import argparse
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FolderHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        name = f"{time.time_ns()}.eml"
        (self.folder / name).write_bytes(envelope.content)
        print(f"mail to {len(envelope.rcpt_tos)} recipient(s): {message['Subject']} -> {self.folder / name}",
              flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
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
