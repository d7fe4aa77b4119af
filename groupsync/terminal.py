"""What may reach a terminal: text with no control character groupsync didn't put there.

Imported by the command line before anything else (an error line is printed through it), so
it imports nothing of groupsync's.
"""

from __future__ import annotations

import re

# Output never carries a control character it didn't put there itself: text from a store
# (names, descriptions written before v2 refused them, or by another tool) could otherwise
# move the cursor and rewrite a line of a plan. Newlines and tabs are ours; colour is ours
# only when we were asked for colour.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SGR = re.compile("(\x1b\\[[0-9;]*m)")


def printable(text: str, color: bool = False) -> str:
    """`text` safe for a terminal: foreign control characters shown as U+FFFD."""
    if not color:
        return _CONTROL.sub("\ufffd", text)
    return "".join(part if _SGR.fullmatch(part) else _CONTROL.sub("\ufffd", part)
                   for part in _SGR.split(text))
