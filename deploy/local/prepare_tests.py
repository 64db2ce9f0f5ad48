"""What the test suite needs from the machine: a RabbitMQ that answers, with its management API
(nameko's fixtures create a virtual host per test through it), and Debian's Chromium for the
browser tests of the patient pages (Playwright drives it; nothing is downloaded by Playwright)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request

from deploy.local.processes import ensure_rabbitmq

MANAGEMENT = "http://127.0.0.1:15672/api/overview"
CHROMIUM = "/usr/bin/chromium"


def management_answers() -> bool:
    request = urllib.request.Request(MANAGEMENT, headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 (fixed local URL)
            return bool(response.status == 200)
    except OSError:
        return False


def ensure_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(f"The browser tests need Chromium at {CHROMIUM}: install your distribution's chromium package.")
    quiet = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if subprocess.run([apt, "install", "-y", "-q", "chromium"], env=quiet, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update", "-q"], env=quiet, check=True)  # noqa: S603 (stale package lists)
        subprocess.run([apt, "install", "-y", "-q", "chromium"], env=quiet, check=True)  # noqa: S603


def main() -> None:
    ensure_chromium()
    ensure_rabbitmq("pyamqp://guest:guest@127.0.0.1:5672/")
    if management_answers():
        return
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None:
        sys.exit("The RabbitMQ management plugin is needed by the tests and rabbitmq-plugins is not "
                 "installed: enable rabbitmq_management on your broker.")
    subprocess.run([plugins, "enable", "rabbitmq_management"], check=True)  # noqa: S603
    for _ in range(60):
        if management_answers():
            return
        time.sleep(1)
    sys.exit("The RabbitMQ management API did not answer on port 15672 after enabling the plugin.")


if __name__ == "__main__":
    main()
