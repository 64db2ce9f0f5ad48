"""Each service's typed client, generated from its RPC methods: `services/<service>/client.py` holds a
Protocol with every method a caller may use, with the service's own signature and answer type, and who
may call it. Callers declare their proxies with it (`consent: ConsentClient = ServiceRpc("consent")`, the
gateway's `services().consent`, `Cluster` for the operators' commands), so mypy checks every call against
the service it goes to; the clients import nothing but `typing`, so another service or program can too.

    python -m services.common.clients   # after changing an RPC method's signature

tests/common/test_clients.py fails when a committed client differs from what the services say.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any

from services.common.bus import service_classes
from services.common.deadletters import CALLERS
from services.common.entrypoints import model_in

LINE = 120
ROOT = Path(__file__).resolve().parents[2]


def class_name(service: str) -> str:
    return f"{service.capitalize()}Client"


def path_of(service: str) -> Path:
    return ROOT / "services" / service / "client.py"


def _signature(name: str, method: Any) -> str:
    signature = inspect.signature(
        method
    )  # annotations as the service spells them (postponed: strings)
    hints = typing.get_type_hints(method)
    parameters = [
        _parameter(parameter, hints.get(parameter.name))
        for parameter in signature.parameters.values()
    ]
    answer = signature.return_annotation
    returns = (
        "Any"
        if answer is inspect.Signature.empty
        else _on_the_wire(hints.get("return"), str(answer))
    )
    one_line = f"    def {name}({', '.join(parameters)}) -> {returns}:"
    if len(one_line) <= LINE:
        return one_line
    lines = (
        f"    def {name}(",
        *(f"        {parameter}," for parameter in parameters),
        f"    ) -> {returns}:",
    )
    return "\n".join(lines)


def _on_the_wire(hint: Any, spelt: str) -> str:
    """A model travels as its JSON object (services/common/entrypoints.py `typed`): a caller sends and gets a dict."""
    model, optional = model_in(hint)
    if model is not None:
        return "dict[str, Any] | None" if optional else "dict[str, Any]"
    if typing.get_origin(hint) is list and model_in(typing.get_args(hint)[0])[0] is not None:
        return "list[dict[str, Any]]"
    return spelt


def _parameter(parameter: inspect.Parameter, hint: Any) -> str:
    text = parameter.name
    if parameter.annotation is not inspect.Parameter.empty:
        text += f": {_on_the_wire(hint, str(parameter.annotation))}"
    if parameter.default is not inspect.Parameter.empty:
        text += f" = {parameter.default!r}"
    return text


def _summary(method: Any) -> str:
    doc = inspect.getdoc(method) or ""
    first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    return first.replace('"""', "'''").replace("\\", "\\\\")


def _docstring(text: str) -> str:
    lines = textwrap.wrap(text, LINE - 14) or [""]  # room for the indent and both sets of quotes
    if len(lines) == 1:
        return f'        """{lines[0]}"""'
    body = "\n".join(f"        {line}" for line in lines[1:])
    return f'        """{lines[0]}\n{body}"""'


def module(service_cls: type[Any]) -> str:
    """The text of one service's client module."""
    service = service_cls.name
    methods = []
    for attribute in sorted(dir(service_cls)):
        method = getattr(service_cls, attribute)
        callers = getattr(method, CALLERS, None)
        if callers is None:
            continue
        summary = _summary(method)
        who = f"Callers: {', '.join(sorted(callers))}."
        methods.append(
            f"{_signature(attribute, method)}\n{_docstring(f'{summary} {who}' if summary else who)}"
        )
    body = "\n\n".join(methods)
    return (
        f'"""The {service} service\'s RPC methods, typed: what its callers declare their proxy as. Generated from\n'
        f"services/{service}/service.py by `python -m services.common.clients` (tests/common/test_clients.py\n"
        f'fails when it drifts)."""\n\n'
        "from __future__ import annotations\n\n"
        "from typing import Any, Protocol\n\n\n"
        f"class {class_name(service)}(Protocol):\n"
        f"{body}\n"
    )


def modules() -> dict[Path, str]:
    return {path_of(service_cls.name): module(service_cls) for service_cls in service_classes()}


def main() -> None:
    for path, text in modules().items():
        path.write_text(text)
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()
