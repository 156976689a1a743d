"""The one exception type for problems with the user's input, and the one notice."""


class InvsolveError(ValueError):
    """Bad input (unknown name, unreadable file, wrong shape, non-finite values...).

    The message is one line that names the problem and the fix; the CLI prints it and exits 2.
    It subclasses ValueError so Python callers can catch either.
    """


class Notice(UserWarning):
    """Something legal but likely not what the user meant; the CLI prints it as one line and goes on."""


class InputNotice(Notice):
    """An input that reads but is suspect: an image upsampled many times over, a DICOM slice that is
    not CT given to a CT operator."""


class LeakageNotice(Notice):
    """A prior is scored on images it was trained on, or on near copies of them (CT slices a few
    millimetres from a training slice): its scores say little about data it has not seen."""


class GenericSettingsNotice(Notice):
    """An operator named after a preset differs from it (other views, noise...), so a solver uses its
    generic settings rather than those tuned for the preset. The CLI prints it as one line."""
