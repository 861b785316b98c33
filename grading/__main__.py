"""`python -m grading` is the same as the `kata` command."""
from grading.cli.kata import main

raise SystemExit(main())
