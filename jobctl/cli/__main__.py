"""`python -m jobctl.cli`: the package is imported once, as jobctl.cli, and this runs its main."""

from jobctl.cli import main

main()
