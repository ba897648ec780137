"""Which shape a response takes, from the Accept header: the object, a Table or its metadata.

kube-apiserver converts a response when an Accept entry says ``as=<Kind>;g=meta.k8s.io;v=<v>``:

* ``Table`` (``kubectl get``): rows of printer columns;
* ``PartialObjectMetadata`` for one object and for each event of a watch, and
  ``PartialObjectMetadataList`` for a list: ``kind``/``apiVersion`` of meta.k8s.io and the
  object's ``metadata`` only. client-go's metadata client and metadata informers ask for
  these (the garbage collector, quota and namespace controllers use them).

The first Accept entry the server can produce wins. Responses are JSON only, so entries for
other media types (``application/vnd.kubernetes.protobuf;as=...``, which the metadata client
lists first) are skipped; a JSON entry without ``as`` means the plain object. Asking for the
list kind of a single object, or the reverse, is 406 NotAcceptable, worded as kube does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from certsmith.api.errors import StatusError

META_GROUP: Final = "meta.k8s.io"
TABLE: Final = "Table"
PARTIAL: Final = "PartialObjectMetadata"
PARTIAL_LIST: Final = "PartialObjectMetadataList"

Conversion = Literal["Table", "PartialObjectMetadata", "PartialObjectMetadataList"]
_CONVERSIONS: Final[dict[str, Conversion]] = {
    TABLE: TABLE,
    PARTIAL: PARTIAL,
    PARTIAL_LIST: PARTIAL_LIST,
}
_VERSIONS: Final = ("v1", "v1beta1")
_JSON_RANGES: Final = ("application/json", "application/yaml", "*/*", "application/*")


@dataclass(frozen=True)
class Rendering:
    """The negotiated shape: ``as_kind`` ``None`` is the object itself."""

    as_kind: Conversion | None = None
    version: str = "v1"

    @property
    def api_version(self) -> str:
        """``apiVersion`` of the converted body (``meta.k8s.io/v1``)."""
        return f"{META_GROUP}/{self.version}"

    def require_list(self) -> None:
        """Refuse a single-object conversion for a list (or a watch).

        Raises:
            StatusError: 406 when ``PartialObjectMetadata`` was asked for.
        """
        if self.as_kind == PARTIAL:
            raise not_acceptable(
                "you requested PartialObjectMetadata, but the requested object is a list"
            )

    def require_object(self) -> None:
        """Refuse a list conversion for a single object.

        Raises:
            StatusError: 406 when ``PartialObjectMetadataList`` was asked for.
        """
        if self.as_kind == PARTIAL_LIST:
            raise not_acceptable(
                "you requested PartialObjectMetadataList, but the requested object is not a list"
            )


PLAIN: Final = Rendering()


def not_acceptable(message: str) -> StatusError:
    """406 NotAcceptable, as kube-apiserver answers a conversion it cannot make."""
    return StatusError(406, "NotAcceptable", message)


def negotiate(accept: str | None) -> Rendering:
    """The shape the first servable entry of an Accept header asks for."""
    for media_range in (accept or "").split(","):
        parts = [p.strip() for p in media_range.split(";")]
        media_type = parts[0].lower()
        params: dict[str, str] = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip()] = value.strip()
        wanted = params.get("as")
        if wanted:
            conversion = _CONVERSIONS.get(wanted)
            servable = media_type in _JSON_RANGES and params.get("g") == META_GROUP
            if conversion is not None and servable and params.get("v") in _VERSIONS:
                return Rendering(conversion, params["v"])
            continue
        if media_type in _JSON_RANGES:
            return PLAIN
    return PLAIN
