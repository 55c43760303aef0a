"""``python -m hawiya.cli``."""

from hawiya.cli import main

main()
