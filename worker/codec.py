"""msgpack (msgspec) instead of pickle for arq's job and result payloads.

Pickle would let anyone who can write to Redis run code in a worker; msgpack
carries data only. A job result that is an exception (arq stores the failure)
is encoded as its type name and message, scrubbed of credential shapes.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from worker.secrets import scrub


def _encode_unknown(obj: Any) -> Any:
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": scrub(str(obj))}
    if isinstance(obj, msgspec.Struct):
        return msgspec.to_builtins(obj)
    raise NotImplementedError(f"cannot serialise {type(obj).__name__} into a job")


_encoder: Final = msgspec.msgpack.Encoder(enc_hook=_encode_unknown)
_decoder: Final = msgspec.msgpack.Decoder()


def serialize_job(data: dict[str, Any]) -> bytes:
    return _encoder.encode(data)


def deserialize_job(data: bytes) -> dict[str, Any]:
    decoded = _decoder.decode(data)
    if not isinstance(decoded, dict):
        raise TypeError("job payload is not a map")
    return decoded
