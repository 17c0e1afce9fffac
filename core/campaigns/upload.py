"""Reading a campaign's participant ids: one a line, streamed, validated, never all in memory.

Uploads of up to a million ids arrive as text (a CSV body or a file). They are
decoded and split incrementally, so a request holds one chunk of the body at a
time, and each id is checked with the same rule as any participant id
(CONTRACT §5). Blank lines, surrounding whitespace and a UTF-8 byte-order mark
are ignored (CONTRACT §8); the first bad line refuses the whole upload.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterable, Iterator

from pydantic import TypeAdapter, ValidationError

from core.errors import ValidationFailed
from core.inputs import ParticipantId

MAX_IDS = 1_000_000
_LINE_END = re.compile(r"\r\n|\r|\n")
_PARTICIPANT_ID = TypeAdapter(ParticipantId)


class IdStream:
    """Participant ids from text chunks, with a digest of the exact bytes read (for the
    Idempotency-Key fingerprint) and the count of lines seen."""

    def __init__(self, chunks: Iterable[bytes], *, header: bool = False) -> None:
        self.chunks = chunks
        self.header = header
        self.digest = hashlib.sha256()
        self.lines = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """(line number, participant id) for every non-blank line, in order."""
        for line in self._lines():
            self.lines += 1
            if self.header and self.lines == 1:
                continue
            participant_id = _parse(line, self.lines)
            if participant_id is not None:
                yield self.lines, participant_id

    def _lines(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        pending, first = "", True
        for chunk in self.chunks:
            self.digest.update(chunk)
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as error:
                line = self.lines + 1 + chunk[: error.start].count(b"\n")
                raise _bad(line, "is not UTF-8 text") from error
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            pending += text
            # A trailing "\r" may be the first half of a "\r\n" split across chunks.
            held = "\r" if pending.endswith("\r") else ""
            parts = _LINE_END.split(pending.removesuffix(held))
            pending = parts.pop() + held
            yield from parts
        try:  # a file may end inside a multi-byte character
            pending = (pending + decoder.decode(b"", final=True)).removesuffix("\r")
        except UnicodeDecodeError as error:
            raise _bad(self.lines + 1, "is not UTF-8 text") from error
        if pending:
            yield pending


def ids_from_list(participant_ids: list[str]) -> Iterator[tuple[int, str]]:
    """(position, id) for a JSON list, held to the same rules as uploaded lines."""
    for position, raw in enumerate(participant_ids, start=1):
        participant_id = _parse(raw, position, field="participant_ids")
        if participant_id is None:  # a list has no blank lines: an empty id is an error
            raise _bad(position, "is empty", "participant_ids")
        yield position, participant_id


def _parse(line: str, number: int, *, field: str = "line") -> str | None:
    """The id on one line (None for a blank one), or ValidationFailed naming the line.

    An uploaded line is a CSV record (the body is `text/csv`): a comma outside quotes
    separates values, so a file of two columns (an id and an e-mail, say) is refused
    rather than gifting rewards to ids like "u1,a@b.c"; an id that holds a comma is
    quoted ("a,b"), as a spreadsheet writes it. Empty cells (a trailing comma) are
    ignored, as for code uploads (core.inventory.parse_csv). A JSON list's ids are
    taken as they are.
    """
    text = line.strip()
    if not text:
        return None
    if field == "line" and ('"' in text or "," in text):
        try:
            cells = [
                cell.strip() for cell in next(csv.reader([text], strict=True), []) if cell.strip()
            ]
        except csv.Error as error:
            raise _bad(number, f"is not valid CSV: {error}", field) from error
        if len(cells) > 1:
            raise _bad(
                number,
                f"holds {len(cells)} values; give one participant id a line (a CSV of one "
                "column; quote an id that contains a comma)",
                field,
            )
        if not cells:
            return None
        text = cells[0]
    try:
        return _PARTICIPANT_ID.validate_python(text)
    except ValidationError as error:
        message = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise _bad(number, f"is not a valid participant id: {message}", field) from error


def _bad(number: int, message: str, field: str = "line") -> ValidationFailed:
    name = f"{field} {number}" if field == "line" else f"{field}[{number - 1}]"
    return ValidationFailed([{"field": name, "message": message}])
