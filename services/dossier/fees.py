"""Operator command: the pharmacy opening fees of a month, as CSV, one line per dossier opened.

    python -m services.dossier.fees --month 2026-11 [--pharmacy FINESS] > fees-2026-11.csv

Asks the running dossier service over RPC (AMQP_URI), so it sees exactly what the service stores.
"""

from __future__ import annotations

import argparse
import csv
import sys

from services.common.rpc_client import RpcClient
from services.common.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--pharmacy", help="only this pharmacy's FINESS")
    args = parser.parse_args()
    settings = Settings.load()
    with RpcClient(
        uri=settings.amqp_uri,
        keys=settings.bus_keys,
        timeout=60,
        reply_expiry_seconds=settings.rpc_reply_queue_expiry_seconds,
    ) as cluster:
        fees = cluster.dossier.pharmacy_fees(args.month)
    writer = csv.writer(sys.stdout)
    writer.writerow(["month", "pharmacy_finess", "pharmacist", "dossier_id", "opened_at"])
    for fee in fees:
        if args.pharmacy is None or fee["organisation"] == args.pharmacy:
            row = [
                args.month,
                fee["organisation"],
                fee["pharmacist_id"],
                fee["dossier_id"],
                fee["opened_at"],
            ]
            writer.writerow(row)
    print(f"{len(fees)} fee(s) in {args.month}", file=sys.stderr)


if __name__ == "__main__":
    main()
