"""The store's quirks stay behind the store (issue 20): epoch-millisecond fields, which exist because the
embedded store turns a top-level datetime written by $set into a string, and any mention of that store, appear
only in the modules that talk to a store; the rest of the code handles real datetimes. A service's entrypoints
take and give typed values, never `dict[str, Any]`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"

# The modules that talk to a store, or stand in for one, and the query language they share.
STORE_SIDE = {
    *(f"{service}/store.py" for service in ("audit", "consent", "dossier", "identity", "notify")),
    *(f"{service}/memory.py" for service in ("audit", "consent", "dossier", "identity", "notify")),
    "common/store.py",
    "common/memory.py",
    "common/matching.py",  # the part of a query evaluated on fetched records
    "common/paging.py",  # the stores' cursors over their stored order
    "dossier/queries.py",  # the dossier store's queries
    "notify/journal.py",  # notify's local store of messages sent but not yet recorded
}
# Formats whose milliseconds are part of what is signed or sent, not a store's workaround.
WIRE_FORMATS = {
    "common/signatures.py",  # a signed request's time, in its header
    "common/deadletters.py",  # the same header, checked on arrival
    "audit/checkpoints.py",  # the signed payload of a checkpoint: signatures already made fix it
    "audit/schemas.py",  # the checkpoint's receipt, as operators' tools read it
}
MILLISECONDS = re.compile(r"\b\w+_ms\b|\bms\(|\bepoch_ms\b")


def modules() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(SERVICES)), path.read_text(encoding="utf-8"))
        for path in sorted(SERVICES.rglob("*.py"))
        if path.name != "client.py"  # generated from the schemas
    ]


def test_the_embedded_store_is_named_only_where_a_store_is_spoken_to() -> None:
    named = [name for name, text in modules() if "nx-27017" in text and name not in STORE_SIDE]
    assert named == []


def test_epoch_milliseconds_are_handled_only_by_the_stores_and_the_signed_formats() -> None:
    found = [
        f"{name}:{number}: {line.strip()}"
        for name, text in modules()
        if name not in STORE_SIDE | WIRE_FORMATS
        for number, line in enumerate(text.splitlines(), 1)
        if MILLISECONDS.search(line)
    ]
    assert found == []


def test_no_entrypoint_takes_or_gives_an_untyped_dictionary() -> None:
    untyped = []
    for path in sorted(SERVICES.glob("*/service.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                annotations = [a.annotation for a in (*node.args.args, *node.args.kwonlyargs)]
                for annotation in (*annotations, node.returns):
                    if annotation is not None and "dict[str, Any]" in ast.unparse(annotation):
                        untyped.append(f"{path.parent.name}.{node.name}")
    assert untyped == []
