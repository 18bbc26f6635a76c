"""`python -m kloset_cli ...` is `klosetctl ...`."""

from kloset_cli.main import main

main()
