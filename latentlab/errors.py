"""Project exceptions: each message says what is wrong and what to do about it."""


class LatentlabError(Exception):
    """Base class of every error latentlab raises on purpose."""


class DataNotFoundError(LatentlabError, FileNotFoundError):
    """No source of a dataset could be found (local copy, download, offline package)."""


class DataFormatError(LatentlabError, ValueError):
    """A dataset file exists but is corrupt, truncated, or of the wrong shape or dtype."""


class ProfileError(LatentlabError, ValueError):
    """An unknown run profile or notebook id."""


class ParameterError(LatentlabError, ValueError):
    """A function was given a parameter it cannot work with (e.g. a GMM with K < 1)."""


class TrainingError(LatentlabError, RuntimeError):
    """Training cannot go on (NaN loss, a checkpoint that does not fit the model)."""


class OutputError(LatentlabError, OSError):
    """A file or folder latentlab was asked to write cannot be written (no permission, no room, a file in
    the way), or writing it would replace something latentlab did not make."""
