"""The one exception type for mistakes the user can fix (bad path, bad option, wrong file)."""


class UserError(Exception):
    """A problem with the user's input; entry points print its message as one line, without a traceback."""
