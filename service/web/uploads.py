"""Flask's request, closing every upload file of a multipart body, also one whose parsing stopped at a limit.

Werkzeug spools each file part of a multipart body to a temporary file as it
parses; when the parse stops at a limit (more parts than ``MAX_FORM_PARTS``,
a body over ``MAX_CONTENT_LENGTH``), the parts already spooled belong to no
``request.files`` and stay open until the garbage collector finds them. Here
each one is remembered and closed when the request ends, as Flask closes it.
"""

from __future__ import annotations

from typing import IO

import flask


class Request(flask.Request):
    """A request that closes the upload files it spooled, parsed to the end or not."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """Return Werkzeug's stream for one file part, remembered for :meth:`close`."""
        stream = super()._get_file_stream(total_content_length, content_type, filename, content_length)
        self.__dict__.setdefault("_spooled", []).append(stream)
        return stream

    def close(self) -> None:
        """Close the request's files, and every spooled part that never became one."""
        super().close()
        for stream in self.__dict__.pop("_spooled", []):
            stream.close()
