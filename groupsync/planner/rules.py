"""Rules the planner and the applier both follow, so the two can't disagree."""

from __future__ import annotations


def password_setter(is_master: bool, master_rotated: bool, master: str,
                    home_login: str | None) -> str | None:
    """Who sets a rotated password (docs/contracts.md, "The group's lifecycle"): never one
    rotated in the same apply. The master's own is set by its home's provider login; everyone
    else's by the master, or, while the master's own is being set, by the provider login of
    the username's home (None when there is none)."""
    if is_master or master_rotated:
        return home_login
    return master
