"""Print fresh secrets for a developer machine, as environment assignments.

`make run` writes them to var/dev.env once. Production never uses this: its secrets come from the
platform's secret store (see deploy/ and the README).
"""

from __future__ import annotations

import base64
import os
import uuid

from services.common.keys import SigningKey
from services.common.principals import SERVICES
from services.common.signatures import PUBLIC_KEYS, signing_variable

SIGNERS = (*SERVICES, "gateway")  # who publishes events or replies


def bus_keys(signers: tuple[str, ...] = SIGNERS) -> dict[str, str]:
    """A signing key for each principal that signs on the bus (DMP_BUS_SIGNING_KEY_<NAME>: `make run` gives
    each process its own as DMP_BUS_SIGNING_KEY) and every public key (services/common/signatures.py)."""
    keys = {name: SigningKey.generate(kid=f"{name}.{uuid.uuid4().hex[:6]}") for name in signers}
    return {
        **{signing_variable(name): key.serialise() for name, key in keys.items()},
        PUBLIC_KEYS: ",".join(key.public() for key in keys.values()),
    }


def main() -> None:
    key = SigningKey.generate(kid=uuid.uuid4().hex[:8])
    master = base64.urlsafe_b64encode(os.urandom(32)).decode()
    print(f"DMP_TOKEN_SIGNING_KEY={key.serialise()}")
    print(f"DMP_TOKEN_PUBLIC_KEYS={key.public()}")
    print(f"DMP_MASTER_KEY={master}")
    print(f"DMP_LOGIN_CODE_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
    print(f"DMP_IDENTITY_MESSAGE_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
    audit = SigningKey.generate(kid=f"audit-{uuid.uuid4().hex[:6]}")
    print(f"DMP_AUDIT_SIGNING_KEY={audit.serialise()}")
    print(f"DMP_AUDIT_PUBLIC_KEYS={audit.public()}")
    for variable, value in bus_keys().items():
        print(f"{variable}={value}")


if __name__ == "__main__":
    main()
