"""Event parameters: raw scap bytes to Python values (`decode_param`) and back (`encode_param`).

The wire encoding of every PT_* type is described in the reference table scap-types.tsv. Decoded
values are plain Python objects so that fields, filters and chisels never touch raw bytes:

* integers (all signed/unsigned widths, PT_ERRNO/PT_FD/PT_PID, flags, mode, uid/gid, sigset,
  syscall ids, times) -> `int`; PT_BOOL -> `bool`; PT_DOUBLE -> `float`;
* PT_CHARBUF/PT_FSPATH/PT_FSRELPATH -> `str` (cut at the first NUL as sysdig's C strings are;
  utf-8 with 'surrogateescape' so undecodable bytes survive a round trip; the 0.29 drivers' legacy
  '(NULL)' text is kept as written, because sysdig 0.29 prints it verbatim);
* PT_BYTEBUF -> `bytes`;
* PT_SOCKADDR -> `(family, address, port)` for AF_INET/AF_INET6 and `(family, path)` for AF_UNIX;
* PT_SOCKTUPLE -> `(family, src_addr, src_port, dst_addr, dst_port)` for IP and
  `(family, source_ptr, dest_ptr, path)` for AF_UNIX;
  (families use the scap numbering: `AF_UNIX` 1, `AF_INET` 2, `AF_INET6` 10; unknown families
  decode to `(family, raw_bytes)`; an empty address decodes to None, as for a NULL pointer);
* PT_FDLIST -> tuple of `(fd, flags)` pairs;
* PT_DYN -> `(index, value)` with the value decoded by the type its dynamic table names;
* IP address types -> text ('10.0.0.1', '::1').

A parameter the event does not carry (index beyond `len(ev.raw)`) decodes to None; so does an empty
value of a fixed-size type.
"""

import functools
import socket
import struct

from .errors import ChiselRuntimeError
from .event import model

# scap's PPM_AF_* socket family numbers (the same values as Linux's AF_*).
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10

# (struct format, is-bool) of fixed-size integer-like types, little-endian as every writer emits them.
_INT_FORMATS = {
    "PT_INT8": "<b", "PT_INT16": "<h", "PT_INT32": "<i", "PT_INT64": "<q",
    "PT_UINT8": "<B", "PT_UINT16": "<H", "PT_UINT32": "<I", "PT_UINT64": "<Q",
    "PT_ERRNO": "<q", "PT_FD": "<q", "PT_PID": "<q", "PT_SYSCALLID": "<H", "PT_SIGTYPE": "<B",
    "PT_RELTIME": "<Q", "PT_ABSTIME": "<Q", "PT_PORT": "<H", "PT_L4PROTO": "<B",
    "PT_SOCKFAMILY": "<B", "PT_FLAGS8": "<B", "PT_FLAGS16": "<H", "PT_FLAGS32": "<I",
    "PT_UID": "<I", "PT_GID": "<I", "PT_SIGSET": "<I", "PT_MODE": "<I",
    "PT_ENUMFLAGS8": "<B", "PT_ENUMFLAGS16": "<H", "PT_ENUMFLAGS32": "<I",
    "PT_FD32": "<i", "PT_PID32": "<i",
}
_INT_STRUCTS = {pt: struct.Struct(fmt) for pt, fmt in _INT_FORMATS.items()}
_SIGNED = frozenset(pt for pt, fmt in _INT_FORMATS.items() if fmt[1].islower())

_TEXT_TYPES = frozenset({"PT_CHARBUF", "PT_FSPATH", "PT_FSRELPATH"})

_PORT = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_FDLIST_ENTRY = struct.Struct("<qh")


def decode_param(ev, i):
    """Parameter `i` of event `ev` as a Python value, or None when the event does not carry it."""
    raw = ev.raw
    if i < 0 or i >= len(raw):
        return None
    info = ev.info
    params = info.params
    if i < len(params):
        p = params[i]
    else:
        j = i - len(params)
        if j >= len(info.extra_params):
            return None  # more values than any table version lists: nothing says how to read it
        p = info.extra_params[j]
    return decode_value(p.ptype, raw[i], p.table)


def decode_value(ptype, data, table=None):
    """Decode the bytes `data` of wire type `ptype`; `table` names the dynamic table for PT_DYN."""
    st = _INT_STRUCTS.get(ptype)
    if st is not None:
        if len(data) == st.size:
            return st.unpack(data)[0]
        if not data:
            return None
        # A value of an unexpected width (a damaged or foreign file): read what is there.
        return int.from_bytes(data, "little", signed=ptype in _SIGNED)
    if ptype in _TEXT_TYPES:
        return _text(data)
    decoder = _DECODERS.get(ptype)
    if decoder is not None:
        return decoder(data)
    if ptype == "PT_DYN":
        return _decode_dyn(data, table)
    # PT_NONE, pointer-only tracer types, network types used only by filter fields: raw bytes.
    return bytes(data)


def _text(data):
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    return bytes(data).decode("utf-8", "surrogateescape")


def _ipv4_text(data):
    return socket.inet_ntop(socket.AF_INET, bytes(data))


def _ipv6_text(data):
    return socket.inet_ntop(socket.AF_INET6, bytes(data))


def _decode_sockaddr(data):
    if not data:
        return None
    family = data[0]
    if family == AF_INET and len(data) >= 7:
        return (AF_INET, _ipv4_text(data[1:5]), _PORT.unpack_from(data, 5)[0])
    if family == AF_INET6 and len(data) >= 19:
        return (AF_INET6, _ipv6_text(data[1:17]), _PORT.unpack_from(data, 17)[0])
    if family == AF_UNIX:
        return (AF_UNIX, _text(data[1:]))
    return (family, bytes(data[1:]))


def _decode_socktuple(data):
    if not data:
        return None
    family = data[0]
    if family == AF_INET and len(data) >= 13:
        return (AF_INET, _ipv4_text(data[1:5]), _PORT.unpack_from(data, 5)[0],
                _ipv4_text(data[7:11]), _PORT.unpack_from(data, 11)[0])
    if family == AF_INET6 and len(data) >= 37:
        return (AF_INET6, _ipv6_text(data[1:17]), _PORT.unpack_from(data, 17)[0],
                _ipv6_text(data[19:35]), _PORT.unpack_from(data, 35)[0])
    if family == AF_UNIX and len(data) >= 17:
        return (AF_UNIX, _U64.unpack_from(data, 1)[0], _U64.unpack_from(data, 9)[0], _text(data[17:]))
    return (family, bytes(data[1:]))


def _decode_fdlist(data):
    if len(data) < 2:
        return ()
    count = _PORT.unpack_from(data, 0)[0]
    # Never trust the count beyond the bytes present (a truncated or damaged value).
    count = min(count, (len(data) - 2) // _FDLIST_ENTRY.size)
    return tuple(_FDLIST_ENTRY.unpack_from(data, 2 + k * _FDLIST_ENTRY.size) for k in range(count))


def _decode_ipaddr(data):
    if len(data) == 4:
        return _ipv4_text(data)
    if len(data) == 16:
        return _ipv6_text(data)
    return None


def _decode_fixed(fn, size):
    def decode(data):
        return fn(data) if len(data) == size else None
    return decode


_DECODERS = {
    "PT_BYTEBUF": bytes,
    "PT_SOCKADDR": _decode_sockaddr,
    "PT_SOCKTUPLE": _decode_socktuple,
    "PT_FDLIST": _decode_fdlist,
    "PT_BOOL": _decode_fixed(lambda d: d != b"\0\0\0\0", 4),
    "PT_DOUBLE": _decode_fixed(lambda d: struct.unpack("<d", d)[0], 8),
    "PT_IPV4ADDR": _decode_fixed(_ipv4_text, 4),
    "PT_IPV6ADDR": _decode_fixed(_ipv6_text, 16),
    "PT_IPADDR": _decode_ipaddr,
}


@functools.cache
def dyn_types(table):
    """{index: (ptype, fmt)} of a PT_DYN parameter's dynamic table (kind=dyn rows)."""
    out = {}
    for idx, text in model().flag_tables[table].entries:
        # Entries read 'PPM_SOCKOPT_IDX_ERRNO=PT_ERRNO:PF_DEC'.
        ptype, _, fmt = text.partition("=")[2].partition(":")
        out[idx] = (ptype, fmt)
    return out


def _decode_dyn(data, table):
    if not data:
        return None
    idx = data[0]
    sub = dyn_types(table).get(idx) if table else None
    if sub is None:
        return (idx, bytes(data[1:]))
    return (idx, decode_value(sub[0], data[1:]))


# ---------------------------------------------------------------------------------------------
# Encoding: the exact inverse, used by the live engine and by tests to build events.


def encode_param(ptype, value, table=None):
    """The scap wire bytes of `value` as type `ptype` (None encodes as an empty value)."""
    if value is None:
        return b""
    st = _INT_STRUCTS.get(ptype)
    if st is not None:
        return st.pack(value)
    if ptype in _TEXT_TYPES:
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        return bytes(value) + b"\0"
    if ptype == "PT_BYTEBUF":
        return bytes(value)
    encoder = _ENCODERS.get(ptype)
    if encoder is not None:
        return encoder(value)
    if ptype == "PT_DYN":
        idx, sub_value = value
        sub = dyn_types(table).get(idx) if table else None
        if sub is None:
            return bytes([idx]) + bytes(sub_value)
        return bytes([idx]) + encode_param(sub[0], sub_value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ChiselRuntimeError(f"cannot encode a {type(value).__name__} value as {ptype}")


def _ipv4_bytes(text):
    return socket.inet_pton(socket.AF_INET, text)


def _ipv6_bytes(text):
    return socket.inet_pton(socket.AF_INET6, text)


def _encode_address(family, addr, port):
    if family == AF_INET:
        return _ipv4_bytes(addr) + _PORT.pack(port)
    return _ipv6_bytes(addr) + _PORT.pack(port)


def _encode_sockaddr(value):
    family = value[0]
    if family in (AF_INET, AF_INET6):
        return bytes([family]) + _encode_address(family, value[1], value[2])
    if family == AF_UNIX:
        return bytes([family]) + encode_param("PT_CHARBUF", value[1])
    return bytes([family]) + bytes(value[1])


def _encode_socktuple(value):
    family = value[0]
    if family in (AF_INET, AF_INET6):
        return (bytes([family]) + _encode_address(family, value[1], value[2])
                + _encode_address(family, value[3], value[4]))
    if family == AF_UNIX:
        return (bytes([family]) + _U64.pack(value[1]) + _U64.pack(value[2])
                + encode_param("PT_CHARBUF", value[3]))
    return bytes([family]) + bytes(value[1])


def _encode_fdlist(value):
    return _PORT.pack(len(value)) + b"".join(_FDLIST_ENTRY.pack(fd, fl) for fd, fl in value)


def _encode_ipaddr(text):
    return _ipv6_bytes(text) if ":" in text else _ipv4_bytes(text)


_ENCODERS = {
    "PT_SOCKADDR": _encode_sockaddr,
    "PT_SOCKTUPLE": _encode_socktuple,
    "PT_FDLIST": _encode_fdlist,
    "PT_BOOL": lambda v: struct.pack("<I", 1 if v else 0),
    "PT_DOUBLE": lambda v: struct.pack("<d", v),
    "PT_IPV4ADDR": _ipv4_bytes,
    "PT_IPV6ADDR": _ipv6_bytes,
    "PT_IPADDR": _encode_ipaddr,
}


def encode_params(etype, values):
    """Raw bytes for every value of event type `etype`, in table order (for building events)."""
    info = model().events[etype]
    params = info.params + info.extra_params
    return [encode_param(p.ptype, v, p.table) for p, v in zip(params, values, strict=False)]
