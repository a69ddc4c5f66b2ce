"""The exceptions of mcops_cache. Every one is an McdError, so a caller can catch them
all; each message names the server and says what to do."""


class McdError(Exception):
    """Base class of every error mcops_cache raises."""


class ConnectionFailed(McdError):
    """The server could not be reached, or the connection broke during a request
    (after the one retry of a read)."""


class AuthenticationError(McdError):
    """mcd refused the tenant's name or password (`CLIENT_ERROR authentication
    failure`). Not retried: a retry with the same password fails the same way and counts
    as one more failed login on the server."""


class PermissionDenied(McdError):
    """The tenant lacks the capability for the command (`CLIENT_ERROR permission
    denied: tenant may not ...`): a plan or configuration matter, not a transient one."""


class ServerError(McdError):
    """mcd answered a request with an error line (`CLIENT_ERROR ...`, `SERVER_ERROR
    ...`), or refused the connection (`SERVER_ERROR too many connections for this
    account`, a draining node). The message carries the server's line."""
