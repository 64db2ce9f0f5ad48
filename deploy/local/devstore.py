"""Run the embedded MongoDB-wire server (nx-27017) for a developer machine or a test session.

`python -m deploy.local.devstore --port 27018 --data-dir var/mongo`. nx-27017 logs every command
with its arguments at INFO, which would put health data in a log file: we run it at WARNING.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    # Configured before nx-27017's own basicConfig, which then does nothing.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s devstore %(levelname)s %(message)s")
    from nx_27017 import nx_27017

    sys.argv = [
        "nx-27017", "--host", "127.0.0.1", "--port", str(args.port), "--data-dir", str(args.data_dir),
        "--log-file", str(args.data_dir / "nx-27017.log"), "--pid-file", str(args.data_dir / "nx-27017.pid"),
    ]
    nx_27017.main()


if __name__ == "__main__":
    main()
