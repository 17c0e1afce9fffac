"""Code inventory: uploads with dedupe, in upload order (allocation is core.allocation)."""

from __future__ import annotations

import csv
import io

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core import stock_alerts
from core.catalog import check_takes_codes, load
from core.clock import utcnow
from core.errors import ValidationFailed
from core.inputs import CodeUpload
from core.models import RewardCode
from core.schemas import CodeUploadResult
from core.tenants import Principal

_LOOKUP_CHUNK = 10_000


def parse_csv(text: str, *, header: bool = False) -> CodeUpload:
    """One code a line (CONTRACT §4); blank lines are skipped; a line with several columns
    is refused, naming the line.

    Lines may end in LF, CRLF or CR, mixed within one upload: the csv module splits them
    when given the text with newlines untranslated (`newline=""`, as its docs ask). A
    leading byte-order mark (spreadsheets write one) is not part of the first code. With
    `header`, the first line (RFC 4180's `header=present`) is a header, not a code.
    """
    codes: list[str] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        if header:
            next(reader, None)
        for row in reader:
            cells = [cell for cell in row if cell.strip()]
            if not cells:
                continue
            if len(cells) > 1:
                raise ValidationFailed(
                    [{"field": f"line {reader.line_num}", "message": "one code a line"}]
                )
            codes.append(cells[0])
    except csv.Error as error:  # an unclosed quote, a field over the csv module's limit
        raise ValidationFailed(
            [{"field": f"line {reader.line_num}", "message": f"not valid CSV: {error}"}]
        ) from error
    if not codes:
        raise ValidationFailed([{"field": "codes", "message": "the upload holds no codes"}])
    return CodeUpload.model_validate({"codes": codes})


def upload_codes(
    session: Session, *, principal: Principal, reward_id: str, upload: CodeUpload
) -> CodeUploadResult:
    """Add the codes not already present, after the existing ones, in the order given.

    The inventory row is locked, so concurrent uploads and claims of this reward
    queue behind each other and sequence numbers stay contiguous.
    """
    reward, inventory = load(session, principal=principal, reward_id=reward_id, lock=True)
    check_takes_codes(reward)
    unique_codes = list(dict.fromkeys(upload.codes))
    existing = _existing_values(session, reward_id=reward.id, values=unique_codes)
    fresh = [code for code in unique_codes if code not in existing]
    first_seq = inventory.uploaded_count + 1
    now = utcnow()
    rows = [
        {
            "tenant_id": principal.tenant_id,
            "mode": principal.mode,
            "reward_id": reward.id,
            "value": value,
            "seq": first_seq + offset,
            "created_at": now,
        }
        for offset, value in enumerate(fresh)
    ]
    _bulk_insert_codes(session, rows)
    inventory.uploaded_count += len(fresh)
    stock_alerts.rearm(reward, inventory)
    session.flush()
    return CodeUploadResult(
        added=len(fresh),
        duplicates=len(upload.codes) - len(fresh),
        available_codes=inventory.available,
    )


def _existing_values(session: Session, *, reward_id: str, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), _LOOKUP_CHUNK):
        chunk = values[start : start + _LOOKUP_CHUNK]
        found.update(
            session.scalars(
                select(RewardCode.value).where(
                    RewardCode.reward_id == reward_id, RewardCode.value.in_(chunk)
                )
            )
        )
    return found


def _bulk_insert_codes(session: Session, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(RewardCode), rows)
        return
    # COPY streams the whole upload in one statement: 100,000 codes in well under a second.
    columns = ("tenant_id", "mode", "reward_id", "value", "seq", "created_at")
    driver = connection.connection.driver_connection
    with (
        driver.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY reward_codes ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(tuple(row[column] for column in columns))
