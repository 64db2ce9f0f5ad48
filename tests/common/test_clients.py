"""Each service's typed client (services/<service>/client.py) says what the service's RPC methods are: a
client that drifts from its service fails here, and mypy (`make test`) checks every call against it."""

import ast
import inspect

from services.common.bus import rpc_callers, service_classes
from services.common.clients import modules, path_of


def test_every_committed_client_is_what_its_service_says() -> None:
    stale = [
        str(path)
        for path, text in modules().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"stale typed clients {stale}: run python -m services.common.clients"


def test_a_client_has_every_rpc_method_with_the_services_own_parameters_and_nothing_more() -> None:
    for service_cls in service_classes():
        tree = ast.parse(path_of(service_cls.name).read_text())
        (protocol,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        methods = {node.name: node for node in protocol.body if isinstance(node, ast.FunctionDef)}
        expected = {
            key.partition(".")[2] for key in rpc_callers() if key.startswith(f"{service_cls.name}.")
        }
        assert set(methods) == expected
        for name, node in methods.items():
            parameters = list(inspect.signature(getattr(service_cls, name)).parameters)
            assert [argument.arg for argument in node.args.args] == parameters, (
                f"{service_cls.name}.{name}"
            )


def test_a_client_imports_nothing_of_the_system() -> None:
    """Another service or program imports the client alone, without the service's dependencies."""
    for service_cls in service_classes():
        tree = ast.parse(path_of(service_cls.name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert imported <= {"__future__", "typing"}, imported
