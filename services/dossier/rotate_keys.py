"""Operator command: finish a master-key rotation by re-wrapping every dossier's data key.

    1. set DMP_MASTER_KEY to the new key and DMP_PREVIOUS_MASTER_KEYS to the old one on the dossier
       service, and restart it (reads keep working: each dossier names the key that wrapped it);
    2. python -m services.dossier.rotate_keys
    3. once it reports 0 remaining, remove the old key from DMP_PREVIOUS_MASTER_KEYS.

Data keys are re-wrapped, not regenerated: documents are not re-encrypted, so this is fast.
"""

from __future__ import annotations

import argparse
import sys

from services.common.rpc_client import RpcClient
from services.common.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    total = 0
    settings = Settings.load()
    with RpcClient(
        uri=settings.amqp_uri,
        keys=settings.bus_keys,
        timeout=300,
        reply_expiry_seconds=settings.rpc_reply_queue_expiry_seconds,
    ) as cluster:
        while True:
            report = cluster.dossier.rewrap_keys(args.batch)
            total += report["rewrapped"]
            print(f"re-wrapped {total}, remaining {report['remaining']}", file=sys.stderr)
            if report["remaining"] == 0 or report["rewrapped"] == 0:
                break
    print(f"{total} data key(s) re-wrapped; {report['remaining']} remaining")
    sys.exit(0 if report["remaining"] == 0 else 1)


if __name__ == "__main__":
    main()
