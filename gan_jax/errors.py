"""The one exception type for bad user input.

Anything a user can get wrong (a config name, a ``--set`` value, a dataset
path, a checkpoint) raises :class:`UserError` with a one-line message that
names the culprit and says what was expected. The CLI prints it as
``gan-jax: error: <message>`` and exits with status 2, without a traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message names the culprit and what was expected."""
