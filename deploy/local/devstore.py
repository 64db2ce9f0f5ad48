"""Run the embedded MongoDB-wire server (nx-27017) for a developer machine or a test session.

`python -m deploy.local.devstore --port 27018 --data-dir var/mongo`. nx-27017 logs every command
with its arguments at INFO, which would put health data in a log file: we run it at WARNING.

Each database's SQLite connection gets a page cache of CACHE_MIB and memory-mapped reads, as MongoDB
keeps its working set in RAM: with SQLite's default (2 MiB) every lookup in the benchmark's
1,000,000-dossier store (1.5 GB) went to the file, and reads there were a third slower than with
10,000 dossiers (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

CACHE_MIB = 256


def cached(connection_class: Any) -> None:
    """Give every SQLite connection nx-27017 opens a larger page cache and memory-mapped reads."""
    configure = connection_class._configure_connection

    def configure_with_cache(self: Any) -> None:
        configure(self)
        self.db.execute(f"PRAGMA cache_size=-{CACHE_MIB * 1024}")  # negative: KiB
        self.db.execute(f"PRAGMA mmap_size={CACHE_MIB * 1024 * 1024}")

    connection_class._configure_connection = configure_with_cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    # Configured before nx-27017's own basicConfig, which then does nothing.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s devstore %(levelname)s %(message)s"
    )
    from neosqlite.connection import Connection
    from nx_27017 import nx_27017

    cached(Connection)

    sys.argv = [
        "nx-27017",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--data-dir",
        str(args.data_dir),
        "--log-file",
        str(args.data_dir / "nx-27017.log"),
        "--pid-file",
        str(args.data_dir / "nx-27017.pid"),
    ]
    nx_27017.main()


if __name__ == "__main__":
    main()
