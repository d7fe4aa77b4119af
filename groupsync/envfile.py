"""${VAR} secrets: the environment and env files (KEY=value). Values never leave a Secrets
object except to the account system's log-in and hashing calls."""

from __future__ import annotations

import os
from pathlib import Path

from groupsync.errors import ConfigError, Problem, SecretError
from groupsync.files import ReadProblem, read_regular
from groupsync.vocabulary import VAR_NAME_RE

MAX_ENV_FILE_BYTES = 1 << 20  # a few hundred secrets are a few KiB


def load_env_file(path: str | Path) -> dict[str, str]:
    """KEY=value lines; `#` comments, `export ` prefixes and surrounding quotes allowed."""
    name = str(path)
    try:
        text = read_regular(path, MAX_ENV_FILE_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, 0, 0, "env file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(name, 0, 0, "env file is a directory")]) from None
    except ReadProblem as exc:
        raise ConfigError([Problem(name, 0, 0, f"env file {exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(name, 0, 0, "env file is not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError([Problem(name, 0, 0, f"can't read env file: {exc.strerror}")]) \
            from None
    # Editors on Windows save "UTF-8 with BOM"; the mark is not part of the first name.
    text = text.removeprefix("\ufeff")
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").lstrip()
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or not VAR_NAME_RE.fullmatch(key):
            # Never echo the line: it may hold a password.
            problems.append(Problem(name, lineno, 1, "expected NAME=value"))
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    if problems:
        raise ConfigError(problems)
    return values


class Secrets:
    """${VAR} values: the environment wins over the env file. Values never leave this object
    except to the account system's login and hashing calls."""

    def __init__(self, env_file: dict[str, str] | None = None,
                 environ: dict[str, str] | None = None) -> None:
        self._file = env_file or {}
        self._environ = dict(os.environ) if environ is None else environ

    def get(self, var: str, needed_for: str, where: str | None = None) -> str:
        value = self._environ.get(var) or self._file.get(var)
        if not value:
            place = f"{where}: " if where else ""
            raise SecretError(
                f"{place}${{{var}}} is not set ({needed_for}); set it in the environment or an "
                "--env-file"
            )
        return value
