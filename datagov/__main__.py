"""`python -m datagov` (what `torchrun -m datagov ...` runs on each rank)."""

from datagov.cli.app import main

main()
