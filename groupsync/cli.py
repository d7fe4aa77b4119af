"""The command line: parse, call the library, print, exit. The only module that imports click.

Exit codes (contract, docs/contracts.md, "Commands and exit codes"): 0 success; 1 any error (usage
errors and an apply not answered `yes` included); 2 only from `plan --detailed-exitcode` when there
are changes; 130 on Ctrl-C. Library errors (GroupsyncError) become one `Error: ...` line (or one
line per problem for an invalid file or plan), never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

# Only what every command needs loads here: `--version`, `--help` and tab completion must not
# wait for pydantic, argon2 or the service (docs/contracts.md, "The command line starts fast"). Each
# command imports the stages it uses when it runs.
from groupsync import __version__
from groupsync.accounts.memo import remembering_logins
from groupsync.accounts.urls import is_http_url, redact, redact_text
from groupsync.defaults import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_REMOVALS,
    LOGIN_BODY,
    MAX_CONNECTIONS_PER_ADDRESS,
)
from groupsync.errors import (
    ConfigError,
    GroupsyncError,
    PermissionDenied,
    PlanError,
    StoreError,
    UsageError,
)
from groupsync.terminal import printable

if TYPE_CHECKING:
    from groupsync.accounts import AccountSystem
    from groupsync.config import Declared, Desired, Secrets
    from groupsync.engine import Backend
    from groupsync.overlay import Overlay
    from groupsync.plan import Plan
    from groupsync.remote import RemoteSystem

F = TypeVar("F", bound=Callable[..., Any])

PROGRESS_MIN_CHANGES = 50


def _options(practice: bool = True, store: bool = True) -> Callable[[F], F]:
    """--no-color on every command; --store where a store is used; -f/--file and --env-file
    shown only where a practice file is read (not for schema, serve and store)."""
    options = []
    # Without a practice file, -f and --env-file are still accepted (scripts written when
    # every command listed them keep working) but hidden from --help and ignored.
    options.append(click.option(
        "-f", "--file", "file", default="practice.yaml", envvar="GROUPSYNC_FILE",
        show_default=True, hidden=not practice, help="The practice file (env GROUPSYNC_FILE)."))
    if store:
        where = (", or a service's http(s):// URL" if practice
                 else " (the store itself: this command doesn't work through a service)")
        options.append(click.option(
            "--store", default="groupsync.db", envvar="GROUPSYNC_STORE", show_default=True,
            help="Store: a SQLite path or sqlite:///file.db, postgresql://user@host/db"
                 f"{where} (env GROUPSYNC_STORE)."))
    options.append(click.option(
        "--env-file", type=click.Path(dir_okay=False), default=None, hidden=not practice,
        help="File of NAME=value lines for ${NAME} passwords; the environment wins."))
    options.append(click.option("--no-color", is_flag=True, help="Plain text even on a terminal."))

    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def _common(func: F) -> F:
    """Every option a command that reads the practice file and the store takes."""
    return _options()(func)


class Context:
    def __init__(self, file: str, store: str, env_file: str | None, no_color: bool) -> None:
        self.file = file
        self.store = store
        self.env_file = env_file
        self.color = (not no_color and "NO_COLOR" not in os.environ
                      and sys.stdout.isatty())
        self.opened: list[RemoteSystem] = []
        # in a workspace run, what this practice's command says, kept to be printed under
        # its name (stdout False/True = stderr, text); None prints at once
        self.buffer: list[tuple[bool, str]] | None = None
        self.made: Plan | None = None  # the plan `plan` or `apply` made, for a fleet's summary
        self.overlay: Overlay | None = None  # what its workspace adds to the practice file
        self.shared: Shared | None = None  # what a fleet's practices share

    def echo(self, text: str = "", err: bool = False, nl: bool = True) -> None:
        if self.buffer is not None:
            self.buffer.append((err, text + ("\n" if nl else "")))
        else:
            click.echo(text, err=err, nl=nl)

    @functools.cached_property
    def _desired(self) -> Desired:
        from groupsync.config import load_file

        return load_file(self.file, self.overlay)

    def desired(self) -> Desired:
        """The practice file, loaded once per command however many steps need it."""
        return self._desired


    @functools.cached_property
    def _secrets(self) -> Secrets:
        from groupsync.config import Secrets, load_env_file

        if self.shared is not None:
            return self.shared.secrets(self.env_file)
        return Secrets(load_env_file(self.env_file) if self.env_file else None)

    def secrets(self) -> Secrets:
        return self._secrets

    def system(self, rotate: tuple[str, ...] = (), acting: str | None = None) -> Backend:
        """The store as a Backend: the local account system, or a service read as the
        practice's logins or the acting username (remote.connect owns that policy)."""
        if is_http_url(self.store):
            from groupsync.remote import connect

            return self._keep(connect(self.store, self.desired(), self.secrets(), rotate,
                                      acting))
        from groupsync.engine import LocalBackend

        return LocalBackend(self.local("this command"))

    def local(self, doing: str) -> AccountSystem:
        if is_http_url(self.store):
            raise StoreError(f"{doing} works on a local store (a SQLite file or PostgreSQL), "
                             f"not through a groupsync service")
        from groupsync.accounts import open_system

        if self.shared is None:
            return open_system(self.store, on_wait=lambda msg: click.echo(msg, err=True))
        return self.shared.system(self.store)

    def for_saved_plan(self) -> Backend:
        """A saved plan needs nothing but itself: through a service, its apply logs in as the
        plan's actor, with no practice file to read."""
        if is_http_url(self.store):
            from groupsync.remote import RemoteSystem

            return self._keep(RemoteSystem(self.store))
        from groupsync.engine import LocalBackend

        return LocalBackend(self.local("this command"))

    def _keep(self, system: RemoteSystem) -> RemoteSystem:
        self.opened.append(system)
        return system

    def close(self) -> None:
        """Close every service connection this command opened."""
        for system in self.opened:
            system.close()
        self.opened.clear()


class Shared:
    """What a fleet's practices share, made once for the command rather than once a
    practice: the local account systems (their connections, one a thread, and their checks of
    the store) and the env file's values (one file of every practice's secrets)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._systems: dict[str, AccountSystem] = {}
        self._secrets: dict[str | None, Secrets] = {}

    def system(self, store: str) -> AccountSystem:
        from groupsync.accounts import open_system

        with self._lock:
            system = self._systems.get(store)
            if system is None:
                system = open_system(store, on_wait=lambda msg: click.echo(msg, err=True))
                self._systems[store] = system
        return system

    def secrets(self, env_file: str | None) -> Secrets:
        from groupsync.config import Secrets, load_env_file

        # a broken env file is not kept: each practice that needs it reports it
        with self._lock:
            found = self._secrets.get(env_file)
            if found is None:
                found = Secrets(load_env_file(env_file) if env_file else None)
                self._secrets[env_file] = found
        return found


def _emit(ctx: Context, text: str) -> None:
    """Command output on stdout, with no control character it didn't put there itself."""
    ctx.echo(printable(text, color=ctx.color), nl=False)


def _command(func: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body, turning library errors into one line each and an exit code. A
    command with `--practice` (the fleet option) given a workspace file runs once per
    practice (`_fleet`)."""

    @functools.wraps(func)
    def wrapper(no_color: bool, store: str = "groupsync.db", file: str = "practice.yaml",
                env_file: str | None = None, **kwargs: Any) -> None:
        ctx = Context(file, store, env_file, no_color)
        practices: tuple[str, ...] | None = kwargs.pop("practices", None)
        try:
            if not store.strip():
                raise UsageError("--store is empty: give a SQLite file, a postgresql:// URL or "
                                 "a service's https:// URL (or leave it out for groupsync.db)")
            workspace = _workspace(file) if practices is not None else None
            if workspace is not None:
                code = _fleet(func, ctx, workspace, practices or (), kwargs)
            else:
                if practices:
                    raise UsageError(f"--practice picks practices of a workspace file; {file} "
                                     "is a practice file")
                with remembering_logins():  # each login verified once per command
                    code = func(ctx, **kwargs) or 0
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(printable(f"Error: {problem}"), err=True)
            code = 1
        except GroupsyncError as exc:
            # whatever an error quotes, never the store URL's secrets; one line per problem
            for line in _error_lines(exc, store):
                click.echo(printable(f"Error: {line}"), err=True)
            code = 1
        finally:
            ctx.close()
        sys.exit(code)

    return wrapper


def _error_lines(exc: GroupsyncError, store: str) -> list[str]:
    if isinstance(exc, ConfigError):
        return [str(problem) for problem in exc.problems]
    return redact_text(str(exc), store).splitlines() or [""]


def _practice_option(func: F) -> F:
    """`--practice NAME`: with a workspace file, the practices to run on."""
    return click.option(
        "--practice", "practices", metavar="NAME", multiple=True,
        help="With a workspace file (groupsync.yaml): run on this practice only "
             "(repeatable); every practice without it.")(func)


def _workspace(file: str) -> Any:
    """The workspace `file` is, or None when it is a practice file (or can't be read: the
    practice loader then says why)."""
    from groupsync import workspace

    raw = workspace.read(file)
    if raw is None or not workspace.is_workspace(raw):
        return None
    return workspace.load_workspace(file, raw)


# The commands whose practices are read and planned side by side: reads and argon2
# verifications (which release the GIL), at most one small recorded entry (`--mark-sent`,
# `--attest`), each in its own short transaction. Applies run one practice after another:
# writers take the store's lock in turn anyway. Output keeps the workspace's order.
_PARALLEL = {"validate", "plan", "access", "notice"}


def _fleet(func: Callable[..., int | None], ctx: Context, workspace: Any,
           names: tuple[str, ...], kwargs: dict[str, Any]) -> int:
    """One command over the practices of a workspace (docs/contracts.md, "Running many
    practices"): each on its own Context, its own plan and transaction; a practice's failure
    is reported under its name and the others go on. Exit 1 if any failed, else the highest
    code a practice gave (2: changes under --detailed-exitcode)."""
    import concurrent.futures

    chosen = workspace.select(names)
    command = click.get_current_context().info_name or ""
    if kwargs.get("out") and len(chosen) > 1:
        raise UsageError("--out writes one practice's file: add --practice NAME")
    if command == "apply":
        if kwargs.get("planfile"):
            raise UsageError("apply PLANFILE applies one saved plan: give it without a "
                             "workspace file")
        if not kwargs.get("auto_approve"):
            raise UsageError("apply on a workspace needs --auto-approve (review the fleet's "
                             "plan first); nothing was changed")

    command_context = click.get_current_context()

    if command == "apply":
        chosen = workspace.apply_order(chosen)

    shared = Shared()

    def one(name: str) -> tuple[Context, int, str | None]:
        sub = Context(chosen[name], ctx.store, ctx.env_file, not ctx.color)
        sub.color = ctx.color
        sub.shared = shared
        sub.buffer = []
        failed: str | None = None
        # click's context is per thread: each worker sees the command's options as given
        with command_context.scope(cleanup=False), remembering_logins():
            try:
                sub.overlay = workspace.overlay(name)  # a broken shared file fails each
                code = func(sub, **kwargs) or 0
            except GroupsyncError as exc:
                failed = "\n".join(_error_lines(exc, ctx.store))
                code = 1
            finally:
                sub.close()
        return sub, code, failed

    workers = fleet_workers(len(chosen), os.cpu_count() or 1, is_http_url(ctx.store)) \
        if command in _PARALLEL else 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        done = dict(zip(chosen, pool.map(one, chosen), strict=True))
    again = _waiting_for_home(workspace, done) if command == "apply" else []
    fmt = "json" if kwargs.get("as_json") and command == "plan" else kwargs.get("fmt", "text")
    if command == "plan" and fmt in ("json", "markdown"):
        _fleet_document(ctx, done, fmt, kwargs.get("max_removals", DEFAULT_MAX_REMOVALS))
    else:
        runs = [(name, name, result) for name, result in done.items()]
        # a practice whose guests its home has just made: applied again, to join them
        runs += [(name, f"{name} (again: its guests now exist)", one(name)) for name in again]
        _fleet_text(ctx, runs, command)
        done.update({name: result for name, _heading, result in runs})  # the last run's
    codes = [code for _sub, code, _failed in done.values()]
    return 1 if any(f for _s, _c, f in done.values()) else max(codes, default=0)


def fleet_workers(practices: int, cores: int, through_service: bool) -> int:
    """The threads a fleet's plan runs on. Locally, one a core: argon2 and SQL release the
    GIL, and a practice's own work keeps its core busy. Through a service, two a core: while
    one practice's thread reads an answer or plans, another's log-in keeps the service
    hashing (measured on 2 cores and 200 practices: 2 threads 5.5 s, 4 threads 4.9 s, 6 no
    better); but never more than a quarter of the connections a service takes from one
    address (MAX_CONNECTIONS_PER_ADDRESS), for the other clients behind that address."""
    wanted = min(cores * 2, MAX_CONNECTIONS_PER_ADDRESS // 4) if through_service else cores
    return max(1, min(practices, wanted))


def _waiting_for_home(workspace: Any, done: dict[str, tuple[Context, int, str | None]]
                      ) -> list[str]:
    """The practices whose apply left guests unjoined (not made yet) whose home practice
    this run has just applied."""
    applied = {name for name, (sub, _c, failed) in done.items()
               if not failed and sub.made is not None and sub.made.changes}
    out = []
    for name, (sub, _c, failed) in done.items():
        if failed or sub.made is None or not sub.made.waiting:
            continue
        homes = {workspace.usernames[g].home.partition("/")[0]
                 for g in sub.made.waiting if g in workspace.usernames}
        if homes & applied:
            out.append(name)
    return out


def _fleet_text(ctx: Context, runs: list[tuple[str, str, tuple[Context, int, str | None]]],
                command: str) -> None:
    """Each run (practice, heading, result) under its heading, then the fleet's line: its
    practices as their last run left them, the changes of every run."""
    for name, heading, (sub, _code, failed) in runs:
        click.echo(f"== {heading} ==")
        for err, text in sub.buffer or []:
            click.echo(text, err=err, nl=False)
        if failed:
            for line in failed.splitlines():
                click.echo(printable(f"Error: {line}"))
                click.echo(printable(f"Error: {name}: {line}"), err=True)
        click.echo()
    last = {name: result for name, _heading, result in runs}
    failures = sum(1 for _s, _c, f in last.values() if f)
    tail = f", {failures} failed" if failures else ""
    if command in ("plan", "apply"):
        from groupsync.render import fleet_totals

        made = [(name, sub.made) for name, _h, (sub, _c, f) in runs
                if sub.made is not None and not f]
        _count, total = fleet_totals([plan for _name, plan in made])
        changed = len({name for name, plan in made if plan.changes})
        verb = ("to add", "to change", "to remove") if command == "plan" else \
            ("added", "changed", "removed")
        click.echo(f"Fleet: {_n(len(last), 'practice')}, {changed} with changes: "
                   f"{total['add']} {verb[0]}, {total['change']} {verb[1]}, "
                   f"{total['remove']} {verb[2]}{tail}.")
    else:
        click.echo(f"Fleet: {_n(len(last), 'practice')}{tail}.")


def _fleet_document(ctx: Context, done: dict[str, tuple[Context, int, str | None]],
                    fmt: str, max_removals: int) -> None:
    from groupsync import render

    for name, (sub, _code, problem) in done.items():
        for err, text in sub.buffer or []:
            if err:  # what a practice said on stderr (a saved plan's path) stays there
                click.echo(text, err=True, nl=False)
        for line in (problem or "").splitlines():
            click.echo(printable(f"Error: {name}: {line}"), err=True)
    plans = {name: sub.made for name, (sub, _c, problem) in done.items()
             if sub.made is not None and not problem}
    failed = {name: problem for name, (_s, _c, problem) in done.items() if problem}
    if fmt == "json":
        _emit(ctx, render.fleet_json(plans, failed, max_removals))
    else:
        _emit(ctx, render.fleet_markdown(plans, failed, max_removals))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, package_name="groupsync")
def cli() -> None:
    """groupsync: a group practice's accounts as code.

    Keep practice.yaml in git; `plan` shows what would change, `apply` does it in one
    transaction.
    """


@cli.command()
@_common
@_practice_option
@_command
def validate(ctx: Context) -> None:
    """Check the practice file offline (no store, no passwords).

    Example: groupsync validate -f practice.yaml
    """
    d = ctx.desired()
    records = sum(len(r) for r in d.codes.inline.values()) if d.codes else 0
    ctx.echo(f"{ctx.file} is valid: {_n(len(d.providers), 'provider')}, "
               f"{_n(len(d.staff), 'staff username')}, {_n(records, 'inline code record')}.")
    for warning in [*d.warnings, *d.file_warnings]:
        ctx.echo(printable(f"Warning: {warning}"), err=True)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _plan(ctx: Context, rotate: tuple[str, ...] = (), acting: str | None = None,
          break_glass: bool = False) -> tuple[Backend, Plan, dict[str, str], Desired]:
    from groupsync.engine import prepare

    desired = ctx.desired()
    system = ctx.system(rotate, acting)
    prepared = prepare(system, desired, ctx.secrets(), rotate, acting, break_glass)
    return system, prepared.plan, prepared.passwords, desired


def _as_option(func: F) -> F:
    """`--as USERNAME` (docs/contracts.md, "People and who acts")."""
    return click.option(
        "--as", "acting", metavar="USERNAME", envvar="GROUPSYNC_AS", default=None,
        help="Act as this declared username (its own ${VAR} password) instead of the "
             "master; the audit trail names it. Env: GROUPSYNC_AS.")(func)


def _acting_options(func: F) -> F:
    """`--as USERNAME` and `--break-glass`."""
    func = click.option(
        "--break-glass", is_flag=True,
        help="Act as a sealed master (master.sealed); apply needs a --note saying why, and "
             "every audit entry is marked break_glass.")(func)
    return _as_option(func)


def _acting(given: str | None) -> str | None:
    if given is None or not given.strip():
        return None  # GROUPSYNC_AS= (empty) is unset, as a CI variable left blank is
    from groupsync.vocabulary import USERNAME_RE

    if not USERNAME_RE.fullmatch(given.strip()):
        raise UsageError("--as takes a username (3-64 letters, digits or . _ @ -)")
    return given.strip()


def _apply_hint(ctx: Context, out: str) -> str:
    """The command that applies a saved plan, with the options this plan was made with (the
    store only when given on the command line, and never its password)."""
    import shlex

    words = ["groupsync", "apply", out]
    source = click.get_current_context().get_parameter_source("store")
    if source is click.core.ParameterSource.COMMANDLINE:
        words += ["--store", redact(ctx.store)]
    if ctx.env_file:
        words += ["--env-file", ctx.env_file]
    return " ".join(shlex.quote(w) for w in words)


def _nonempty(option: str, value: str | None) -> None:
    """`--out ''` (an unset variable in a CI script) would write nothing and say nothing."""
    if value is not None and not value.strip():
        raise UsageError(f"{option} is empty: give a file name")


def _expand_option(func: F) -> F:
    return click.option(
        "--expand", is_flag=True,
        help="Show a change that is the same in several accounts in each of them, not once "
             "under `in N accounts:`.")(func)


def _rotate_option(func: F) -> F:
    return click.option(
        "--rotate", "rotate", metavar="USERNAME", multiple=True,
        help="Set USERNAME's password to its variable's current value (repeatable; the "
             "master, a staff username or a provider login).")(func)


MAX_NOTE = 500


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())


def _note(given: str | None) -> str | None:
    """`apply --note`, or in CI the run's commit and author (GitHub Actions, GitLab CI), so
    the audit trail says who did it even when everyone acts as the master."""
    if given is None:
        for sha, who in (("GITHUB_SHA", "GITHUB_ACTOR"), ("CI_COMMIT_SHA", "GITLAB_USER_LOGIN")):
            if os.environ.get(sha):
                # the CI's words, not the user's: kept printable rather than refused
                given = f"commit {_printable(os.environ[sha])[:12]}"
                if os.environ.get(who):
                    given += f" by {_printable(os.environ[who])[:100]}"
                break
    if given is None:
        return None
    note = " ".join(given.split())
    if not note:
        return None
    if len(note) > MAX_NOTE:
        raise UsageError(f"--note is {len(note)} characters; the most is {MAX_NOTE}")
    if not note.isprintable():
        raise UsageError("--note holds a control character; write it as plain text")
    return note


@cli.command()
@_common
@click.option("--out", type=click.Path(dir_okay=False), help="Save the plan for `apply PLANFILE`.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (= --format json).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True,
              help="text for people, json for machines, markdown for a pull-request comment.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 with no changes, 2 with changes, 1 on error.")
@click.option("--max-removals", type=click.IntRange(min=0), default=DEFAULT_MAX_REMOVALS,
              show_default=True, help="Warn when the plan removes more than this.")
@click.option("--fail-on-warnings", is_flag=True,
              help="Exit 1 when the plan warns (policy warnings, leftover access, removals "
                   "past --max-removals): the plan is still shown, and not saved.")
@_rotate_option
@_acting_options
@_expand_option
@_practice_option
@_command
def plan(ctx: Context, out: str | None, as_json: bool, fmt: str, detailed_exitcode: bool,
         max_removals: int, fail_on_warnings: bool, rotate: tuple[str, ...],
         acting: str | None, break_glass: bool, expand: bool) -> int:
    """Show what apply would change; changes nothing.

    Example: groupsync plan --env-file secrets.env --out riverside.plan
    """
    given = click.get_current_context().get_parameter_source("fmt")
    if as_json and fmt != "json" and given is not click.core.ParameterSource.DEFAULT:
        # refused before anything is read: two answers to "which format" is a usage error
        raise UsageError(f"--json and --format {fmt} ask for two formats; use one")
    from groupsync import planfile as planfile_format
    from groupsync import render
    from groupsync.files import write_private

    _nonempty("--out", out)
    _system, p, passwords, _desired = _plan(ctx, rotate, _acting(acting), break_glass)
    ctx.made = p
    fmt = "json" if as_json else fmt
    if fmt == "json":
        _emit(ctx, render.plan_json(p, max_removals=max_removals))
    elif fmt == "markdown":
        _emit(ctx, render.plan_markdown(p, max_removals=max_removals, expand=expand))
    else:
        _emit(ctx, render.plan_text(p, color=ctx.color, max_removals=max_removals,
                                    expand=expand))
    warned = len(p.warnings) + len(render.removal_warning(p, max_removals, ""))
    if fail_on_warnings and warned:
        raise PlanError(f"the plan has {warned} warning{'' if warned == 1 else 's'} and "
                        "--fail-on-warnings is set" + ("; the plan was not saved" if out else ""))
    if out:
        write_private(out, planfile_format.dumps(p, passwords))
        # on stderr, so the text plan on stdout still ends with its summary line (contract)
        ctx.echo(f"Saved the plan to {out}; apply it with: {_apply_hint(ctx, out)}", err=True)
    return 2 if detailed_exitcode and p.changes else 0


@cli.command()
@_common
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--max-removals", type=click.IntRange(min=0), default=DEFAULT_MAX_REMOVALS,
              show_default=True, help="Refuse a plan that removes more than this.")
@_rotate_option
@click.option("--note", metavar="TEXT", default=None,
              help="Kept on every audit entry of this apply (in CI: the commit and author).")
@_acting_options
@_expand_option
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@_practice_option
@_command
def apply(ctx: Context, auto_approve: bool, max_removals: int, planfile: str | None,
          rotate: tuple[str, ...], note: str | None, acting: str | None,
          break_glass: bool, expand: bool) -> None:
    """Apply the plan (or a saved PLANFILE) in one transaction.

    Example: groupsync apply --auto-approve riverside.plan
    """
    from groupsync import planfile as planfile_format
    from groupsync import render
    from groupsync.applier import login_secrets
    from groupsync.engine import Guards, check_guards
    from groupsync.engine import apply as apply_changes

    desired: Desired | None = None
    if break_glass and (note is None or not note.strip()):
        # the reason is the person's, said now: never the CI's commit line put in its place
        raise UsageError("--break-glass needs a --note saying why the sealed master acts; "
                         "nothing was changed")
    note = _note(note)
    if planfile and rotate:
        raise UsageError("--rotate belongs to the plan: give it to `plan --out`, not to "
                         "`apply PLANFILE`")
    given_as = click.get_current_context().get_parameter_source("acting")
    if planfile and acting and given_as is click.core.ParameterSource.COMMANDLINE:
        raise UsageError("--as belongs to the plan: give it to `plan --out`, not to "
                         "`apply PLANFILE` (the saved plan acts as it was made)")
    if planfile:
        saved = planfile_format.read(planfile)
        passwords = login_secrets(saved.plan, ctx.secrets())
        # Authenticated before anything else uses it: an edited file stops here.
        p = saved.verify(passwords)
        system = ctx.for_saved_plan()
        _emit(ctx, render.plan_text(p, color=ctx.color, expand=expand))
    else:
        system, p, passwords, desired = _plan(ctx, rotate, _acting(acting), break_glass)
        _emit(ctx, render.plan_text(p, color=ctx.color, max_removals=max_removals,
                                    expand=expand))
    ctx.made = p
    if not p.changes:
        return
    guards = Guards(max_removals=max_removals, break_glass=break_glass)
    check_guards(p, guards, note)  # before asking: a refused plan is never offered
    if not auto_approve and not planfile:
        if not sys.stdin.isatty():
            raise PlanError("apply needs --auto-approve when not run from a terminal; "
                            "nothing was changed")
        click.echo("\nApply these changes? Only 'yes' will be accepted: ", nl=False)
        try:
            # Ctrl-C here is KeyboardInterrupt: exit 130 (docs/contracts.md, "Commands and
            # exit codes")
            answer = input()
        except EOFError:
            answer = ""
        if answer.strip() != "yes":
            raise PlanError("apply cancelled (the answer was not 'yes'); nothing was changed")
    with _progress(len(p.changes), ctx) as progress:
        revision = apply_changes(system, p, passwords, desired, progress, note, guards)
    s = p.summary()
    ctx.echo(f"\nApply complete: {s['add']} added, {s['change']} changed, "
               f"{s['remove']} removed. Store {redact(ctx.store)} is at revision {revision}.")


@cli.command()
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@_as_option
@_command
def show(ctx: Context, as_json: bool, acting: str | None) -> None:
    """Show the store's current accounts, usernames, privileges and code files.

    Example: groupsync show --json | jq '.accounts["100482"].access'
    """
    from groupsync import render

    state = ctx.system(acting=_acting(acting)).read_state()
    if as_json:
        _emit(ctx, render.state_json(state))
    else:
        _emit(ctx, render.state_text(state, color=ctx.color))


_DAY = click.DateTime(formats=["%Y-%m-%d"])


@cli.command()
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON "
              "(--format json).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "jsonl"]), default=None,
              help="text, json, or jsonl: one entry a line, every field of --json (for a "
                   "SIEM).  [default: text]")
@click.option("--limit", type=click.IntRange(min=1, max=1_000_000), default=None,
              help="At most N entries (up to 1,000,000).")
@click.option("--since", type=_DAY, default=None, metavar="YYYY-MM-DD",
              help="Entries from the start of this day (UTC).")
@click.option("--until", type=_DAY, default=None, metavar="YYYY-MM-DD",
              help="Entries to the end of this day (UTC).")
@click.option("--username", default=None, metavar="NAME",
              help="Entries by or about this username (as written, ignoring case).")
@click.option("--account", default=None, metavar="ID", help="Entries about this account.")
@click.option("--revision", type=click.IntRange(min=0, max=2**62), default=None, metavar="N",
              help="Entries of this revision (one apply).")
@click.option("--verify", is_flag=True,
              help="Check the trail's hash chain instead: exit 0 when it holds, 1 naming "
                   "the first entry that breaks it.")
@_as_option
@_command
def log(ctx: Context, as_json: bool, fmt: str | None, limit: int | None,
        since: Any, until: Any, username: str | None, account: str | None,
        revision: int | None, verify: bool, acting: str | None) -> int:
    """Show the audit trail, newest first; the filters combine.

    Example: groupsync log --since 2026-11-01 --username jsmith --limit 20
    """
    from groupsync import render
    from groupsync.accounts.storage import AuditQuery

    if as_json and fmt not in (None, "json"):
        raise UsageError("--json is --format json: give one of them")
    fmt = "json" if as_json else (fmt or "text")
    if since and until and since > until:
        raise UsageError(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}")
    for option, given in (("--username", username), ("--account", account)):
        if given is not None and not given.strip():
            raise UsageError(f"{option} is empty: give a value, or leave it out")
    filters = {"--since": since, "--until": until, "--username": username,
               "--account": account, "--revision": revision, "--limit": limit}
    if verify and any(v is not None for v in filters.values()):
        given = next(k for k, v in filters.items() if v is not None)
        raise UsageError(f"--verify checks the whole trail: drop {given}")
    system = ctx.system(acting=_acting(acting))
    if verify:
        return _verify_log(ctx, system)
    query = AuditQuery(since=f"{since:%Y-%m-%d}" if since else None,
                       until=f"{until:%Y-%m-%d}" if until else None,
                       username=username, account=account, revision=revision)
    entries = system.audit(limit, query)
    if fmt == "text":
        out = render.audit_text(entries, filtered=query != AuditQuery())
    else:
        out = (render.audit_json if fmt == "json" else render.audit_jsonl)(entries)
    _emit(ctx, out)
    return 0


def _verify_log(ctx: Context, system: Backend) -> int:
    holds, broken, check = system.verify_audit()
    if holds:
        if check is not None:
            entries = "1 entry" if check.entries == 1 else f"{check.entries:,} entries"
            ctx.echo(f"The audit trail's hash chain holds: {entries}, ending at link "
                     f"{check.head}.")
        else:
            ctx.echo("The audit trail's hash chain holds (checked by the service).")
        return 0
    if check is not None:
        ctx.echo(printable(f"Error: the audit trail's hash chain breaks at entry {broken}: "
                           f"{check.why}"), err=True)
    elif broken is not None:
        ctx.echo(f"Error: the audit trail's hash chain breaks at entry {broken} (said by "
                 "the service)", err=True)
    else:
        ctx.echo("Error: the audit trail's hash chain breaks, at an entry these logins can't "
                 "read (said by the service)", err=True)
    return 1


@cli.command()
@_common
@_practice_option
@_command
def sandbox(ctx: Context) -> None:
    """Sign up the file's providers in a sandbox store, or through a service.

    With a local store (SQLite or PostgreSQL) the store is created if needed; with a service's
    https:// URL, its Free Trial sign-up is used.

    Idempotent: accounts already signed up are left alone.

    Example: groupsync sandbox --store sandbox.db --env-file demo.env
    """
    from groupsync.engine import sandbox as sandbox_accounts
    from groupsync.engine import sandbox_passwords

    desired = ctx.desired()
    if is_http_url(ctx.store):
        from groupsync.remote import signup_missing

        # through a service: its Free Trial sign-up, for the accounts that don't exist yet
        created = signup_missing(ctx.store, desired, sandbox_passwords(desired, ctx.secrets()))
        where = f"Service {redact(ctx.store)}"
    else:
        _system, created = sandbox_accounts(ctx.store, desired, ctx.secrets())
        where = f"Sandbox store {redact(ctx.store)}"
    for key in created:
        p = desired.providers[key]
        ctx.echo(f"Signed up {key}: account {p.account_id}, login {p.login}")
    ctx.echo(f"{where}: {len(desired.providers)} provider accounts ({len(created)} new).")


@contextlib.contextmanager
def _progress(total: int, ctx: Context) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long applies, only when stderr is a terminal."""
    if total < PROGRESS_MIN_CHANGES or not sys.stderr.isatty():
        yield None
        return
    step = max(1, total // 100)  # redraw at most ~100 times
    with click.progressbar(length=total, label="Applying", file=sys.stderr,
                           color=ctx.color) as bar:
        def update(done: int, _total: int) -> None:
            if done - bar.pos >= step or done == total:
                bar.update(done - bar.pos)

        yield update
    click.echo("Writing to the store...", err=True)


@cli.command()
@_options(practice=False, store=False)
@_command
def schema(ctx: Context) -> None:
    """Print the JSON Schema of practice.yaml, for editors and linters.

    Example: groupsync schema > practice.schema.json
    """
    from groupsync.schema import practice_schema

    click.echo(json.dumps(practice_schema(), indent=2))


@cli.command()
@_common
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "html"]), default="table",
              show_default=True, help="table for a terminal, csv for a spreadsheet, html for a "
                                      "filterable page.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option("--all-accounts", is_flag=True,
              help="Every account in the store, not only those the practice file declares.")
@click.option("--attest", is_flag=True,
              help="Record that you reviewed this matrix (audit entry `review`: the revision, "
                   "its SHA-256 and the --note), as --as USERNAME or the master.")
@click.option("--note", metavar="TEXT", default=None, help="Why, for --attest (required).")
@click.option("--since-review", is_flag=True,
              help="Show only what changed since the last review: grants added, raised, "
                   "lowered or removed, and break-glass applies.")
@click.option("--at", "at", metavar="REVISION|YYYY-MM-DD", default=None,
              help="As it stood at the end of this revision, or of this day (UTC), rebuilt "
                   "from the audit trail.")
@_as_option
@_practice_option
@_command
def access(ctx: Context, fmt: str, out: str | None, all_accounts: bool, attest: bool,
           note: str | None, since_review: bool, at: str | None, acting: str | None) -> None:
    """Review who can do what: usernames x accounts x areas, risky grants flagged.

    Example: groupsync access --format html --out access-review.html
    """
    if at is not None:
        at = _at(at)
        if attest or since_review:
            raise UsageError("--at looks back; --attest and --since-review review the "
                             "present: give one of them")
    if (attest or since_review) and all_accounts:
        raise UsageError("--attest and --since-review review the practice file's accounts; "
                         "drop --all-accounts")
    if attest and since_review:
        raise UsageError("--attest records a review of the whole matrix; run --since-review "
                         "first, then --attest")
    if attest and (note is None or not " ".join(note.split())):
        raise UsageError("--attest needs a --note saying what was reviewed and why")
    if note is not None and not attest:
        raise UsageError("--note goes with --attest")
    if attest or since_review:
        _review(ctx, attest, _note(note) if attest else None, _acting(acting), fmt, out)
        return
    from groupsync import access as review
    from groupsync.applier import scope_for
    from groupsync.clock import now
    from groupsync.files import write_private

    _nonempty("--out", out)

    # --all-accounts reviews the whole store: the practice file is then optional
    desired = ctx.desired() if not all_accounts or os.path.exists(ctx.file) else None
    system = ctx.system(acting=_acting(acting))
    state = system.read_state(
        scope_for(desired) if desired is not None and not all_accounts else None)
    if at is not None:
        accounts = set(desired.by_account) if desired is not None and not all_accounts \
            else set(state.accounts)
        past = system.access_at(at, state, accounts)
        state = past.state
        for line in past.notes:  # what history can't say is said, never guessed
            ctx.echo(f"Note: {line}", err=True)
    if desired is None:
        items = review.rows(state)
        practice = "every account in the store"
    else:
        items = review.practice_rows(state, desired,
                                     None if all_accounts else set(desired.by_account))
        practice = desired.practice_name
    if fmt == "csv":
        text = review.to_csv(items)
    elif fmt == "html":
        made = datetime.fromtimestamp(now(), UTC).strftime("%Y-%m-%d %H:%M UTC")
        text = review.to_html(items, review.Header(practice, made, state.revision,
                                                   state.lineage))
    else:
        text = review.table(items)
    if out:
        write_private(out, text)
        ctx.echo(f"Wrote the access review ({len(items)} rows) to {out}")
    else:
        _emit(ctx, text)


def _at(value: str) -> str:
    """`--at`: a revision (digits) or a day that exists (YYYY-MM-DD)."""
    value = value.strip().removeprefix("r")  # `log` writes r12
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return str(int(value))
    try:
        if len(value) == 10:
            datetime.strptime(value, "%Y-%m-%d")
            return value
    except ValueError:
        pass
    raise UsageError(f"--at {value!r}: give a revision (as `groupsync log` shows, r12 is 12) "
                     "or a day, YYYY-MM-DD")


def _login_as(ctx: Context, desired: Desired, acting: str | None,
              doing: str) -> tuple[Declared, str]:
    """Who a command that records something logs in as: `--as`, else the master (never a
    sealed one: docs/contracts.md, "People and who acts"), with its password."""
    name = acting or desired.master.username
    who = desired.declared(name)
    if who is None:
        raise UsageError(f"--as {name}: not a username {desired.source} declares (the "
                         "master, a staff username or a provider login)")
    if who.kind == "master" and desired.sealed:
        raise PermissionDenied(f"the master {who.username} is sealed (master.sealed in the "
                               f"practice file): {doing} as yourself with --as USERNAME")
    password = ctx.secrets().get(who.password_var, f"the password of {who.username}",
                                 desired.var_where.get(who.password_var))
    return who, password


def _review(ctx: Context, attest: bool, note: str | None, acting: str | None, fmt: str,
            out: str | None) -> None:
    """`access --attest` and `access --since-review` (docs/contracts.md, "Reviews")."""
    from groupsync import access as review
    from groupsync import reviews
    from groupsync.applier import scope_for

    if fmt != "table" or out:
        raise UsageError("--attest and --since-review print to the terminal; drop --format "
                         "and --out")
    desired = ctx.desired()
    backend = ctx.system(acting=acting)
    accounts = sorted(desired.by_account)
    state = backend.read_state(scope_for(desired))
    items = review.practice_rows(state, desired, set(accounts))
    labels = {p.account_id: f"{p.account_id} ({p.key})" for p in desired.providers.values()}
    if not attest:
        status = backend.review_status(accounts)
        shown = [r for r in items if not r.outside]
        _emit(ctx, reviews.since_text(reviews.since(shown, backend.reviews(accounts)),
                                      status.last, list(status.break_glass), labels))
        return
    who, password = _login_as(ctx, desired, acting, "attest")
    _emit(ctx, review.table(items))
    seen = reviews.digest([r for r in items if not r.outside])
    done = backend.attest(who.username, password, accounts, note or "", who.person, seen)
    person = f" ({who.person})" if who.person else ""
    ctx.echo(f"Recorded the access review of {len(accounts)} accounts ({done.rows} access "
               f"rows) as {who.username}{person} at revision {done.revision}; SHA-256 "
               f"{done.digest}.")


@cli.command()
@_common
@click.option("--master", "master", metavar="USERNAME",
              help="Export the accounts this master username can open.")
@click.option("--login", "logins", metavar="USERNAME", multiple=True,
              help="Export this provider login's account (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the file here.")
@click.option("--force", is_flag=True, help="Overwrite the --out file if it exists.")
@_command
def export(ctx: Context, master: str | None, logins: tuple[str, ...], out: str | None,
           force: bool) -> None:
    """Write a practice.yaml describing the store, to adopt an existing group.

    Example: groupsync export --master riverside-admin --out practice.yaml
    """
    from groupsync.export import export as build
    from groupsync.files import write_private

    if master and logins:
        raise UsageError("--master and --login are two ways to choose the accounts; use one")
    _nonempty("--out", out)
    from groupsync.access import persons_of

    declared: set[str] | None = None
    persons: dict[str, str] = {}
    if os.path.exists(ctx.file):
        # an existing practice file says who left (their accounts are not exported again)
        # and who the people behind the usernames are (kept)
        try:
            declared = set(ctx.desired().by_account)
            persons = persons_of(ctx.desired())
        except ConfigError:
            click.echo(f"Note: {ctx.file} is not valid; every account is exported", err=True)
    result = build(ctx.system().read_state(), master=master, logins=list(logins),
                   declared=declared, persons=persons)
    if out:
        write_private(out, result.text, overwrite=force)
        click.echo(f"Wrote {out}. It needs these variables: {', '.join(result.variables)}")
        for note in result.notes:
            click.echo(f"Note: {note}", err=True)
    else:
        _emit(ctx, result.text)


@cli.command()
@_common
@click.option("--mark-sent", is_flag=True,
              help="Record this notice as sent (logs in as --as USERNAME, else the master).")
@click.option("--json", "as_json", is_flag=True, help="Print the notice as JSON.")
@_as_option
@_practice_option
@_command
def notice(ctx: Context, mark_sent: bool, as_json: bool, acting: str | None) -> None:
    """Print the group-rate notice for the vendor: practice, TIN and providers.

    Providers added or cancelled since the last notice recorded as sent are marked.

    Example: groupsync notice --mark-sent
    """
    from groupsync import notice as notices
    from groupsync.applier import scope_for
    from groupsync.clock import today

    desired = ctx.desired()
    acting = _acting(acting)
    system = ctx.system(acting=acting)  # a local store or the service (a team may have only
    # the service)
    draft = notices.draft(desired, system.read_state(scope_for(desired)))
    day = today()
    text = notices.notice_json(draft, day) if as_json else notices.notice_text(draft, day)
    _emit(ctx, text)
    if mark_sent:
        who, password = _login_as(ctx, desired, acting, "record notices")
        system.record_notice(who.username, password, draft.practice_name, draft.tin,
                             draft.providers())
        if not as_json:
            ctx.echo(f"Recorded this notice as sent ({len(draft.providers())} providers).")


@cli.command()
@_options(practice=False)
@click.option("--listen", default="127.0.0.1:8750", show_default=True, metavar="HOST:PORT",
              help="Where to listen; loopback by default (put TLS in a reverse proxy).")
@click.option("--max-body", type=click.IntRange(min=LOGIN_BODY, max=2**31),
              default=DEFAULT_MAX_BODY, show_default=True, metavar="BYTES",
              help="Largest request body a logged-in client may send (413 beyond it).")
@click.option("--trusted-proxy", metavar="ADDR", default=None,
              help="The reverse proxy's address: from it, the client's address is read from "
                   "X-Forwarded-For (log-in throttling is per client address).")
@_command
def serve(ctx: Context, listen: str, max_body: int, trusted_proxy: str | None) -> None:
    """Serve the account system over HTTP for many admins and CI runners.

    Example: groupsync serve --store postgresql://groupsync@db/groupsync --listen 127.0.0.1:8750
    """
    from groupsync.server import serve as run_server

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise PlanError(f"--listen {listen!r}: expected HOST:PORT, like 127.0.0.1:8750")
    system = ctx.local("serve")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        click.echo(f"Warning: listening on {host}, not loopback: put it behind a TLS reverse "
                   "proxy; passwords and tokens travel in requests.", err=True)
    if trusted_proxy is not None and not _is_ip(trusted_proxy):
        raise UsageError(f"--trusted-proxy {trusted_proxy!r}: expected an IP address, like "
                         "127.0.0.1")
    run_server(system, host.strip("[]"), int(port), max_body=max_body,
               trusted_proxy=trusted_proxy)


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@cli.group()
def store() -> None:
    """Create or upgrade a store (SQLite file or PostgreSQL database)."""


@store.command("init")
@_options(practice=False)
@_command
def store_init(ctx: Context) -> None:
    """Create an empty store: a SQLite file, or tables in PostgreSQL.

    Example: groupsync store init --store postgresql://groupsync@db.internal/groupsync
    """
    from groupsync.accounts import create_system
    from groupsync.accounts.storage import SCHEMA_VERSION

    state = create_system(ctx.store).read_state()
    click.echo(f"Created store {redact(ctx.store)} (lineage {state.lineage}, schema version "
               f"{SCHEMA_VERSION}).")


@store.command("migrate")
@_options(practice=False)
@_command
def store_migrate(ctx: Context) -> None:
    """Move a store written by an older groupsync to this version's schema.

    Example: groupsync store migrate --store groupsync.db
    """
    from groupsync.accounts import migrate_store

    click.echo(migrate_store(ctx.store))


def main() -> None:
    """Console entry point: usage errors exit 1 (not click's 2, which means 'changes')."""
    # groupsync validates with no pydantic plugin; looking for them scans every installed
    # package's metadata, a tenth of `validate`'s start-up. A user who sets it keeps theirs.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        cli.main(prog_name="groupsync", standalone_mode=False)
    except click.ClickException as exc:
        # one line, like every other error (click's own usage text is four)
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(printable(f"Error: {exc.format_message()}{hint}"), err=True)
        sys.exit(1)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click wraps Ctrl-C as Abort
            click.echo("Interrupted; nothing was changed.", err=True)
            sys.exit(130)
        click.echo("Aborted; nothing was changed.", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing was changed.", err=True)
        sys.exit(130)
    except Exception as exc:
        # A bug, not something the user did: still one line (the store is safe, every write
        # is transactional), and the traceback when asked for.
        if os.environ.get("GROUPSYNC_DEBUG"):
            raise
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); nothing was "
                   "changed. Set GROUPSYNC_DEBUG=1 for the traceback and please report it.",
                   err=True)
        sys.exit(1)
