"""The REST API under /api/v1, one router per resource (services/gateway/app.py includes them).

A route only says what it answers and which service answers it: the services decide every access, and
services/gateway/problems.py turns their errors into problem details.
"""

from typing import Annotated

from fastapi import Path

API = "/api/v1"
InsPath = Annotated[
    str, Path(description="the patient's INS (15 characters)", examples=["180012A00100161"])
]
