"""Reading request bodies: size limit, media types, and kube's wording for bad input.

* Bodies over :data:`MAX_BODY_BYTES` (3 MiB, kube-apiserver's limit for a JSON object) are 413;
  the limit is checked while reading, so a lying or missing Content-Length cannot get past it.
* A missing Content-Type is JSON: the ``kubernetes`` Python client sends none (K8S-API §1.7).
* ``application/yaml`` is accepted for POST/PUT as kube-apiserver does; protobuf bodies are
  decoded by :mod:`certsmith.apiserver.protobuf` for the kinds kubectl sends that way (§4.14).
* Malformed JSON is 400 with the ``couldn't get version/kind; json parse error`` prefix of
  kube's decoder, so scripts that grep for it keep working. So is a body the store could not
  write back (:mod:`certsmith.apiserver.jsonlimits`: nesting depth, 64-bit integers).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import yaml
from aiohttp import web

from certsmith.api.errors import StatusError
from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.errors import bad_request
from certsmith.apiserver.jsonlimits import json_problem
from certsmith.apiserver.protobuf import decode as decode_protobuf

MAX_BODY_BYTES: Final = 3 * 1024 * 1024

PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
_JSON_TYPES: Final = ("", "application/json", "*/*", "text/plain")
_YAML_TYPES: Final = ("application/yaml", "application/x-yaml", "text/yaml")


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lower case, parameters dropped."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def too_large() -> StatusError:
    """413 for a body over the limit."""
    return StatusError(
        413,
        "RequestEntityTooLarge",
        f"Request entity too large: limit is {MAX_BODY_BYTES}",
    )


async def read_body(request: web.Request) -> bytes:
    """Read the whole body, refusing more than :data:`MAX_BODY_BYTES`.

    Raises:
        StatusError: 413 when the body is too large.
    """
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise too_large()
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def unsupported_media_type(content_type: str) -> StatusError:
    """415 for a body this server cannot decode."""
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml, {PROTOBUF}",
        {},
    )


def parse_json(raw: bytes) -> Any:
    """Parse JSON with kube's error prefix.

    Raises:
        StatusError: 400 for malformed JSON.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def parse_yaml(raw: bytes) -> Any:
    """Parse a single YAML document.

    Raises:
        StatusError: 400 for malformed YAML.
    """
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise bad_request(f"couldn't get version/kind; yaml parse error: {problem}") from None
    except RecursionError:
        raise bad_request(
            "couldn't get version/kind; yaml parse error: nested too deeply"
        ) from None


def decode_object(raw: bytes, content_type: str | None) -> JSONObject:
    """Decode a POST/PUT body into an object.

    Raises:
        StatusError: 400 for malformed input or a non-object, 415 for an unknown media type.
    """
    mtype = media_type(content_type)
    if mtype in _JSON_TYPES:
        value = parse_json(raw)
    elif mtype in _YAML_TYPES:
        value = parse_yaml(raw)
    elif mtype == PROTOBUF:
        value = _decode_protobuf(raw)
    else:
        raise unsupported_media_type(mtype)
    problem = json_problem(value)
    if problem is not None:
        raise bad_request(f"couldn't get version/kind; json parse error: {problem}")
    if not isinstance(value, dict):
        raise bad_request(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{_go_type(value)} into Go value of type struct {{ APIVersion string "
            '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
        )
    return value


def _go_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null"


def _decode_protobuf(raw: bytes) -> Any:
    return decode_protobuf(raw)
