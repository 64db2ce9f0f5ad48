"""What the test suite needs from the machine: a RabbitMQ that answers, with its management API
(nameko's fixtures create a virtual host per test through it), and Debian's Chromium for the
browser tests of the patient pages (Playwright drives it; nothing is downloaded by Playwright)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from deploy.local.processes import ensure_rabbitmq
from services.common.broker_admin import ensure_management

CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(
            f"The browser tests need Chromium at {CHROMIUM}: install your distribution's chromium package."
        )
    quiet = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = [apt, "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=quiet, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update", "-q"], env=quiet, check=True)  # noqa: S603 (stale package lists)
        subprocess.run([apt, "install", "-y", "-q", "chromium"], env=quiet, check=True)  # noqa: S603


def main() -> None:
    ensure_chromium()
    local = "pyamqp://guest:guest@127.0.0.1:5672/"
    ensure_rabbitmq(local)
    ensure_management(local)


if __name__ == "__main__":
    main()
