"""groupsync: a group practice's accounts as code.

The public API, for scripts and services that use groupsync as a library. It is the same
front door the command line and `serve` use (docs/contracts.md, "One engine"):

    import groupsync

    desired = groupsync.load_file("practice.yaml")
    secrets = groupsync.Secrets(groupsync.load_env_file("secrets.env"))
    backend = groupsync.LocalBackend(groupsync.open_system("groupsync.db"))
    prepared = groupsync.prepare(backend, desired, secrets)
    print(groupsync.plan_text(prepared.plan))
    revision = groupsync.apply(backend, prepared.plan, prepared.passwords, desired)

Everything else is internal and may change between releases. Names load on first use, so
`import groupsync` costs nothing until one is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that owns it
_EXPORTS = {
    # the practice file
    "load_file": "config", "load_text": "config", "load_env_file": "config",
    "Desired": "config", "Secrets": "config",
    # the account system
    "open_system": "accounts", "create_system": "accounts", "migrate_store": "accounts",
    "AccountSystem": "accounts",
    # the use cases
    "Backend": "engine", "LocalBackend": "engine", "Guards": "engine", "Prepared": "engine",
    "prepare": "engine", "apply": "engine", "plan_as": "engine", "apply_as": "engine",
    "sandbox": "engine",
    # plans and their views
    "Plan": "plan", "plan_text": "render", "plan_json": "render", "plan_markdown": "render",
    "read_plan_file": "planfile", "dump_plan_file": "planfile",
    # errors
    "GroupsyncError": "errors", "ConfigError": "errors", "SecretError": "errors",
    "StoreError": "errors", "StaleError": "errors", "RuleError": "errors",
    "LoginFailed": "errors", "PermissionDenied": "errors", "PlanError": "errors",
}
_RENAMED = {"read_plan_file": "read", "dump_plan_file": "dumps"}

__all__ = [
    "AccountSystem",
    "Backend",
    "ConfigError",
    "Desired",
    "GroupsyncError",
    "Guards",
    "LocalBackend",
    "LoginFailed",
    "PermissionDenied",
    "Plan",
    "PlanError",
    "Prepared",
    "RuleError",
    "SecretError",
    "Secrets",
    "StaleError",
    "StoreError",
    "__version__",
    "apply",
    "apply_as",
    "create_system",
    "dump_plan_file",
    "load_env_file",
    "load_file",
    "load_text",
    "migrate_store",
    "open_system",
    "plan_as",
    "plan_json",
    "plan_markdown",
    "plan_text",
    "prepare",
    "read_plan_file",
    "sandbox",
]

if TYPE_CHECKING:
    from groupsync.accounts import AccountSystem, create_system, migrate_store, open_system
    from groupsync.config import Desired, Secrets, load_env_file, load_file, load_text
    from groupsync.engine import (
        Backend,
        Guards,
        LocalBackend,
        Prepared,
        apply,
        apply_as,
        plan_as,
        prepare,
        sandbox,
    )
    from groupsync.errors import (
        ConfigError,
        GroupsyncError,
        LoginFailed,
        PermissionDenied,
        PlanError,
        RuleError,
        SecretError,
        StaleError,
        StoreError,
    )
    from groupsync.plan import Plan
    from groupsync.planfile import dumps as dump_plan_file
    from groupsync.planfile import read as read_plan_file
    from groupsync.render import plan_json, plan_markdown, plan_text


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"groupsync.{_EXPORTS[name]}")
        return getattr(module, _RENAMED.get(name, name))
    raise AttributeError(f"module 'groupsync' has no attribute {name!r}")
