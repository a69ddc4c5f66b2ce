"""How Python values become memcache values and flags, and back.

The flags are those of python-memcached and pymemcache (which Django's stock memcached
backends use), so a value written by this package reads back through those clients and
the other way round: bytes 0, pickle 1, int 2, str (UTF-8) 16. Exact types are checked,
as they do, so a subclass of str or int goes through pickle and comes back as itself.
"""
import pickle

FLAG_BYTES = 0
FLAG_PICKLE = 1 << 0
FLAG_INTEGER = 1 << 1
FLAG_LONG = 1 << 2  # Python 2's long; read as int
FLAG_COMPRESSED = 1 << 3  # python-memcached's zlib; never written, refused on read
FLAG_TEXT = 1 << 4


def dumps(value, pickle_protocol=pickle.HIGHEST_PROTOCOL):
    """(bytes, flags) for value."""
    kind = type(value)
    if kind is bytes:
        return value, FLAG_BYTES
    if kind is str:
        return value.encode("utf-8"), FLAG_TEXT
    # An int is stored as its decimal digits so that incr and decr work on it.
    if kind is int:
        return b"%d" % value, FLAG_INTEGER
    return pickle.dumps(value, pickle_protocol), FLAG_PICKLE


def loads(data, flags):
    """The value that dumps turned into (data, flags). ValueError for flags this module
    never writes (a compressed value of python-memcached)."""
    if flags == FLAG_BYTES:
        return data
    if flags & FLAG_COMPRESSED:
        raise ValueError("value is compressed (flags %d), which mcops_cache does not read" % flags)
    if flags & FLAG_TEXT:
        return data.decode("utf-8")
    if flags & (FLAG_INTEGER | FLAG_LONG):
        return int(data)
    if flags & FLAG_PICKLE:
        return pickle.loads(data)
    raise ValueError("unknown value flags %d" % flags)
