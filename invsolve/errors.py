"""The one exception type for problems with the user's input, and the one notice."""


class InvsolveError(ValueError):
    """Bad input (unknown name, unreadable file, wrong shape, non-finite values...).

    The message is one line that names the problem and the fix; the CLI prints it and exits 2.
    It subclasses ValueError so Python callers can catch either.
    """


class GenericSettingsNotice(UserWarning):
    """An operator named after a preset differs from it (other views, noise...), so a solver uses its
    generic settings rather than those tuned for the preset. The CLI prints it as one line."""
