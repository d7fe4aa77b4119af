"""Defaults the command line shows in its options, in a module that imports nothing.

The engine and the service's edge use them as well; they live here so that `groupsync --help`
never has to import the service (uvicorn, starlette) or the engine to print them
(docs/contracts.md, "The command line starts fast").
"""

from __future__ import annotations

# An apply that would remove more objects than this stops, nothing changed (--max-removals).
DEFAULT_MAX_REMOVALS = 10
# A log-in is under 1 KiB; nothing unauthenticated sent to `serve` needs more.
LOGIN_BODY = 8 * 1024
# `/v1/apply`'s cap (`serve --max-body`): large enough for a saved plan of a few tens of
# thousands of changes with its practice; larger plans (a first apply of 340,000 code records)
# are applied locally or with a raised --max-body. Kept below what one parse can do within the
# health budget.
DEFAULT_MAX_BODY = 16 * 1024 * 1024
# Connections `serve` takes from one client address at once (a reverse proxy is exempt); a
# fleet's client keeps its threads well under it, for the other clients behind that address.
MAX_CONNECTIONS_PER_ADDRESS = 64
