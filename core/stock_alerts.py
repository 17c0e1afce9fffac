"""`reward.inventory_low` and `reward.inventory_exhausted`: once per crossing (CONTRACT §7).

Each alert is armed while stock is healthy, fires once when stock crosses
down (low: available below the threshold; exhausted: the last code of a
reward that does not generate codes is taken), and is re-armed by whatever
brings stock back up: an upload, a restock, a threshold change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from core import facts


class Stock(Protocol):
    """The inventory counters an alert reads and the flags it keeps."""

    low_stock_notified: bool
    exhausted_notified: bool

    @property
    def available(self) -> int: ...


class Definition(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def low_stock_threshold(self) -> int | None: ...
    @property
    def code_length(self) -> int | None: ...


def after_allocation(
    reward: Definition, stock: Stock, *, available: int, at: datetime
) -> list[dict[str, Any]]:
    """Facts for a code just taken, leaving `available` codes; flags `stock` as alerted."""
    if reward.code_length is not None:  # it generates codes: never low, never exhausted
        return []
    alerts = []
    threshold = reward.low_stock_threshold
    if threshold is not None and available < threshold and not stock.low_stock_notified:
        stock.low_stock_notified = True
        data = {
            "reward_id": reward.id,
            "available_codes": available,
            "low_stock_threshold": threshold,
        }
        alerts.append(_fact(reward, "reward.inventory_low", data, at))
    if available == 0 and not stock.exhausted_notified:
        stock.exhausted_notified = True
        data = {"reward_id": reward.id, "available_codes": 0}
        alerts.append(_fact(reward, "reward.inventory_exhausted", data, at))
    return alerts


def rearm(reward: Definition, stock: Stock) -> None:
    """After stock went up or the threshold changed: alerts whose condition no longer holds."""
    threshold = reward.low_stock_threshold
    if threshold is None or stock.available >= threshold:
        stock.low_stock_notified = False
    if stock.available > 0:
        stock.exhausted_notified = False


def _fact(
    reward: Definition, type_: facts.FactType, data: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return facts.fact(tenant_id=reward.tenant_id, mode=reward.mode, type_=type_, data=data, at=at)
