"""Operator command: the notifications given up on, and replaying them.

python -m services.notify.dead_letters               # list, with why
python -m services.notify.dead_letters --replay ID   # try one again (e.g. after fixing an address)
"""

from __future__ import annotations

import argparse

from services.common.rpc_client import RpcClient
from services.common.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replay", metavar="DELIVERY_ID")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    settings = Settings.load()
    with RpcClient(
        uri=settings.amqp_uri,
        keys=settings.bus_keys,
        timeout=60,
        reply_expiry_seconds=settings.rpc_reply_queue_expiry_seconds,
    ) as cluster:
        if args.replay:
            print(cluster.notify.replay(args.replay)["status"])
            return
        letters = cluster.notify.dead_letters(args.limit)
    for letter in letters:
        print(
            f"{letter['delivery_id']}  {letter['channel']}  to {letter['whom']}  after {letter['attempts']} "
            f"attempt(s): {letter['reason']}"
        )
    print(f"{len(letters)} dead letter(s)")


if __name__ == "__main__":
    main()
