"""The one error every dataset loader raises: it names the file and what was wrong with it."""


class DatasetError(ValueError):
    """A dataset file is missing, corrupt or not in the expected format (the message names the file)."""
