"""mcops_cache: a memcache client for mcd that authenticates as a tenant and keeps its
connections, and a Django cache backend on it (mcops_cache.django.McdCache).

The client needs only the standard library; mcops_cache.django needs Django."""
from .client import Client
from .errors import AuthenticationError, ConnectionFailed, McdError, PermissionDenied, ServerError

__all__ = ["Client", "McdError", "AuthenticationError", "ConnectionFailed",
           "PermissionDenied", "ServerError"]
