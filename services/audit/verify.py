"""Operator command: verify the audit trail (every hash chain, every signed checkpoint).

    python -m services.audit.verify [--checkpoint]

Exit status 0 when the trail is intact, 1 otherwise, with the first broken or missing link of each
damaged chain and each checkpoint that no longer matches. --checkpoint signs the current heads first.
"""

from __future__ import annotations

import argparse
import json
import sys

from services.common.rpc_client import RpcClient
from services.common.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--checkpoint", action="store_true", help="sign the current chain heads first"
    )
    args = parser.parse_args()
    settings = Settings.load()
    with RpcClient(
        uri=settings.amqp_uri,
        keys=settings.bus_keys,
        timeout=600,
        reply_expiry_seconds=settings.rpc_reply_queue_expiry_seconds,
    ) as cluster:
        if args.checkpoint:
            cluster.audit.checkpoint()
        report = cluster.audit.verify()
    print(
        f"{report['chains']} chain(s), {report['traces']} trace(s): "
        f"{'intact' if report['intact'] else 'DAMAGED'}"
    )
    for problem in report["breaks"] + report["checkpoint_mismatches"]:
        print(json.dumps(problem))
    sys.exit(0 if report["intact"] else 1)


if __name__ == "__main__":
    main()
