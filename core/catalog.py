"""The reward catalog: definitions, their lifecycle status, and the catalog entry shape."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core import fulfillment, stock_alerts
from core.clock import utcnow
from core.errors import Forbidden, RewardNotFound, ValidationFailed
from core.ids import new_id
from core.inputs import RewardDefinition, RewardPatch
from core.lifecycle import has_status, status_of
from core.models import Claim, Inventory, Reward
from core.schemas import RewardEntry, RewardPage
from core.schemas.catalog import CodeGenerationShape, MultiplierShape
from core.schemas.queries import ListingStatus
from core.tenants import Principal

_CURSOR_ID = re.compile(r"^rwd_[0-9a-z]{1,36}$")


def entry(
    reward: Reward, inventory: Inventory, now: datetime, *, admin: bool = False
) -> RewardEntry:
    """The catalog entry, with available_codes computed at read time; `admin` shows the
    members only admin keys see (code_generation, multiplier)."""
    return RewardEntry(
        id=reward.id,
        name=reward.name,
        type=reward.type,  # type: ignore[arg-type]  # the column holds one of REWARD_TYPES
        description=reward.description,
        points_cost=reward.points_cost,
        # A multiplier's claims take no code: like a generating reward, no inventory cap.
        available_codes=(
            None if reward.generates_codes or reward.is_multiplier else inventory.available
        ),
        max_claims_per_user=reward.max_claims_per_user,
        expires_at=reward.expires_at,
        starts_at=reward.starts_at,
        code_expiry_days=reward.code_expiry_days,
        low_stock_threshold=reward.low_stock_threshold,
        status=status_of(reward, now),
        created_at=reward.created_at,
        code_generation=_code_generation(reward),
        multiplier=_multiplier(reward),
        fulfillment=fulfillment.view(reward),
    ).for_admin(admin)


def _code_generation(reward: Reward) -> CodeGenerationShape | None:
    if reward.code_length is None:
        return None
    return CodeGenerationShape(prefix=reward.code_prefix or "", length=reward.code_length)


def _multiplier(reward: Reward) -> MultiplierShape | None:
    if reward.multiplier_factor is None or reward.multiplier_days is None:
        return None
    return MultiplierShape(
        factor=float(reward.multiplier_factor), duration_days=reward.multiplier_days
    )


def _check_multiplier(reward: Reward) -> None:
    """CONTRACT §7: `multiplier` is required for points_multiplier and refused for other
    types; held against the definition as it ends up, so a PATCH of either is checked."""
    if reward.type == "points_multiplier" and reward.multiplier_factor is None:
        message = "is required for type points_multiplier"
    elif reward.type != "points_multiplier" and reward.multiplier_factor is not None:
        message = "is only accepted for type points_multiplier"
    else:
        return
    raise ValidationFailed([{"field": "multiplier", "message": message}])


def _check_type_change(session: Session, reward: Reward, inventory: Inventory, new: str) -> None:
    """A reward's type may cross the line between taking codes and points_multiplier (which
    takes none) only while nothing depends on it: no uploaded codes, no claims. Otherwise
    uploaded codes would sit unreachable behind `available_codes: null`, or claims of one
    kind would be counted against rules of the other. Coupon to voucher and the like are
    free. Decision recorded in the README ("Decisions where the contract is silent")."""
    if (reward.type == "points_multiplier") == (new == "points_multiplier"):
        return
    held = []
    if inventory.uploaded_count:
        held.append(f"{inventory.uploaded_count} uploaded code(s)")
    claims = session.scalar(select(func.count()).where(Claim.reward_id == reward.id))
    if claims:
        held.append(f"{claims} claim(s)")
    if held:
        message = (
            f"cannot change from {reward.type} to {new}: the reward has {' and '.join(held)};"
            " create a new reward instead"
        )
        raise ValidationFailed([{"field": "type", "message": message}])


def check_takes_codes(reward: Reward) -> None:
    """Code uploads are for rewards whose claims hand out a code: a points_multiplier's
    claims take none, so codes uploaded to one could never be handed out."""
    if reward.type == "points_multiplier":
        message = "a points_multiplier reward takes no codes: its claims hand out none"
        raise ValidationFailed([{"field": "codes", "message": message}])


def create_reward(
    session: Session, *, principal: Principal, definition: RewardDefinition
) -> RewardEntry:
    """Create a definition and its (empty) inventory."""
    now = utcnow()
    reward = Reward(
        id=new_id("rwd"),
        tenant_id=principal.tenant_id,
        mode=principal.mode,
        created_at=now,
        updated_at=now,
    )
    fulfillment.check(session, principal=principal, fields=definition.model_dump())
    _apply(reward, definition.model_dump())
    _check_multiplier(reward)
    inventory = Inventory(
        reward_id=reward.id,
        tenant_id=principal.tenant_id,
        mode=principal.mode,
        uploaded_count=0,
        allocated_count=0,
        low_stock_notified=False,
    )
    session.add(reward)
    session.flush()  # the inventory row references the reward
    session.add(inventory)
    session.flush()
    return entry(reward, inventory, now, admin=principal.is_admin)


def update_reward(
    session: Session, *, principal: Principal, reward_id: str, patch: RewardPatch
) -> RewardEntry:
    """Change the fields present in the patch; ValidationFailed on `type` for a change to or
    from points_multiplier once the reward has codes or claims (_check_type_change)."""
    new_type = patch.type if "type" in patch.model_fields_set else None
    # Locking the inventory row makes a type change and a code upload take turns.
    reward, inventory = load(
        session, principal=principal, reward_id=reward_id, lock=new_type is not None
    )
    if new_type is not None:
        _check_type_change(session, reward, inventory, new_type)
    fulfillment.check(session, principal=principal, fields=patch.model_dump())
    _apply(reward, patch.model_dump(include=patch.model_fields_set))
    if "low_stock_threshold" in patch.model_fields_set:
        stock_alerts.rearm(reward, inventory)
    if reward.starts_at and reward.expires_at and reward.expires_at <= reward.starts_at:
        raise ValidationFailed([{"field": "expires_at", "message": "must be later than starts_at"}])
    _check_multiplier(reward)
    reward.updated_at = utcnow()
    session.flush()
    return entry(reward, inventory, reward.updated_at, admin=principal.is_admin)


def deactivate_reward(session: Session, *, principal: Principal, reward_id: str) -> None:
    """Deactivate (the API's DELETE): no new claims; existing claims stay readable."""
    reward, _ = load(session, principal=principal, reward_id=reward_id)
    if reward.deactivated_at is None:
        reward.deactivated_at = reward.updated_at = utcnow()


def activate_reward(session: Session, *, principal: Principal, reward_id: str) -> RewardEntry:
    """Undo a deactivation (POST /rewards/{id}/activate, docs/api-extensions.md): claims are
    judged by starts_at and expires_at again, so the entry's `status` may then read
    scheduled or expired rather than active. Activating a reward that is not deactivated
    changes nothing. Raises RewardNotFound."""
    reward, inventory = load(session, principal=principal, reward_id=reward_id)
    now = utcnow()
    if reward.deactivated_at is not None:
        reward.deactivated_at = None
        reward.updated_at = now
        session.flush()
    return entry(reward, inventory, now, admin=principal.is_admin)


def get_reward(session: Session, *, principal: Principal, reward_id: str) -> RewardEntry:
    """One catalog entry, whatever its status."""
    reward, inventory = load(session, principal=principal, reward_id=reward_id)
    return entry(reward, inventory, utcnow(), admin=principal.is_admin)


def list_rewards(
    session: Session,
    *,
    principal: Principal,
    reward_type: str | None,
    limit: int,
    cursor: str | None,
    status: ListingStatus = "active",
) -> RewardPage:
    """Rewards of one lifecycle `status` (CONTRACT §4: active, started, unexpired ones by
    default; `all` for every status) in creation order, `limit` at a time.

    Any `status` but `active` is an admin extension (docs/api-extensions.md): other keys
    get Forbidden (403), since the scheduled, expired and deactivated part of a catalog is
    not theirs to read in bulk. A bad `cursor` raises ValidationFailed (400).
    """
    if status != "active" and not principal.is_admin:
        raise Forbidden("Listing rewards by status needs an admin key; other keys list active ones")
    now = utcnow()
    conditions = [Reward.tenant_id == principal.tenant_id, Reward.mode == principal.mode]
    if status != "all":
        conditions.append(has_status(status, now))
    if reward_type is not None:
        conditions.append(Reward.type == reward_type)
    total = session.scalar(select(func.count()).select_from(Reward).where(*conditions)) or 0
    query = (
        select(Reward, Inventory)
        .join(Inventory, Inventory.reward_id == Reward.id)
        .where(*conditions)
        .order_by(Reward.id)
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(Reward.id > decode_cursor(cursor))
    rows = session.execute(query).all()
    page = [
        entry(reward, inventory, now, admin=principal.is_admin)
        for reward, inventory in rows[:limit]
    ]
    more = len(rows) > limit
    return RewardPage(
        rewards=page, total=total, next_cursor=encode_cursor(page[-1].id) if more else None
    )


def load(
    session: Session, *, principal: Principal, reward_id: str, lock: bool = False
) -> tuple[Reward, Inventory]:
    """A reward and its inventory within the caller's tenant and mode, or RewardNotFound."""
    query = (
        select(Reward, Inventory)
        .join(Inventory, Inventory.reward_id == Reward.id)
        .where(
            and_(
                Reward.id == reward_id,
                Reward.tenant_id == principal.tenant_id,
                Reward.mode == principal.mode,
            )
        )
    )
    if lock:
        query = query.with_for_update(of=Inventory)
    row = session.execute(query).one_or_none()
    if row is None:
        raise RewardNotFound(f"No reward {reward_id}")
    return row[0], row[1]


def _apply(reward: Reward, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name == "code_generation":
            reward.code_prefix = value["prefix"] if value else None
            reward.code_length = value["length"] if value else None
        elif name == "multiplier":
            reward.multiplier_factor = value["factor"] if value else None
            reward.multiplier_days = value["duration_days"] if value else None
        elif name == "fulfillment":
            fulfillment.apply(reward, value)
        else:
            setattr(reward, name, value)


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        last_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        last_id = ""
    # Only a reward id is a cursor: anything else (NUL included) never reaches a query.
    if not _CURSOR_ID.match(last_id):
        raise ValidationFailed([{"field": "cursor", "message": "not a cursor Coffer issued"}])
    return last_id
