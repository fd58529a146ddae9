"""Subcommands of the ``ioc`` CLI, one module each.

Each module exposes ``register(subparsers)`` which adds its parser and sets
``func`` on it. Modules import their heavy dependencies inside the command
function, so ``ioc --help`` works on a gateway that installs only one extra.
"""

COMMAND_MODULES: tuple[str, ...] = (
    "ioc.commands.demo",
    "ioc.commands.stream",
    "ioc.commands.edge",
    "ioc.commands.broker",
    "ioc.commands.models",
    "ioc.commands.cloud",
    "ioc.commands.provision",
    "ioc.commands.devices",
)
