"""`python -m groupsync` runs the command line."""

from groupsync.cli import main

main()
