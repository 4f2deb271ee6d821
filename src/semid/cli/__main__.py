"""`python -m semid.cli ...` (and `torchrun ... -m semid.cli train ...`): the same as `semid ...`."""

from semid.cli import app

app()
