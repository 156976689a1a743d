"""The one exception type for problems with the user's input."""


class InvsolveError(ValueError):
    """Bad input (unknown name, unreadable file, wrong shape, non-finite values...).

    The message is one line that names the problem and the fix; the CLI prints it and exits 2.
    It subclasses ValueError so Python callers can catch either.
    """
