"""What the test suite needs from the machine: a RabbitMQ that answers, with its management API
(nameko's fixtures create a virtual host per test through it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request

from deploy.local.processes import ensure_rabbitmq

MANAGEMENT = "http://127.0.0.1:15672/api/overview"


def management_answers() -> bool:
    request = urllib.request.Request(MANAGEMENT, headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 (fixed local URL)
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> None:
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
