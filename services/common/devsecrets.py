"""Print fresh secrets for a developer machine, as environment assignments.

`make run` writes them to var/dev.env once. Production never uses this: its secrets come from the
platform's secret store (see deploy/ and the README).
"""

from __future__ import annotations

import base64
import os
import uuid

from services.common.keys import SigningKey


def main() -> None:
    key = SigningKey.generate(kid=uuid.uuid4().hex[:8])
    master = base64.urlsafe_b64encode(os.urandom(32)).decode()
    print(f"DMP_TOKEN_SIGNING_KEY={key.serialise()}")
    print(f"DMP_TOKEN_PUBLIC_KEYS={key.public()}")
    print(f"DMP_MASTER_KEY={master}")
    print(f"DMP_LOGIN_CODE_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
    audit = SigningKey.generate(kid=f"audit-{uuid.uuid4().hex[:6]}")
    print(f"DMP_AUDIT_SIGNING_KEY={audit.serialise()}")
    print(f"DMP_AUDIT_PUBLIC_KEYS={audit.public()}")


if __name__ == "__main__":
    main()
