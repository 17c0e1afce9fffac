"""Participant: look one up, credit points, see the claims with their fulfillment status
(read from the claims list, no request per claim), reverse one with a restock after a
confirmation, and see balance and stock change."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.support import browser as chromium
from tests.support.client import Api


def test_credit_points_then_reverse_a_claim_with_restock(signed_in: Page, api: Api) -> None:
    reward = api.create_reward(name="Cinema Ticket", type="digital", points_cost=300)
    api.upload(reward["id"], ["CINE-1", "CINE-2", "CINE-3"])
    page = signed_in
    page.get_by_role("link", name="Participant").click()
    expect(page.get_by_text("Look up a participant")).to_be_visible()
    page.get_by_label("Participant id").fill("alice@example.com")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator(".balance")).to_have_text("0")
    expect(page.get_by_text("No claims yet.")).to_be_visible()

    page.get_by_label("Points", exact=True).fill("1250")
    page.get_by_label("Reason (optional)").fill("Welcome bonus")
    page.get_by_role("button", name="Credit points").click()
    expect(page.get_by_role("status")).to_contain_text("New balance: 1,250")
    expect(page.locator(".balance")).to_have_text("1,250")
    assert api.get("/participants/alice@example.com/points").json()["balance"] == 1250

    claimed = api.claim(reward["id"], "alice@example.com", points_deduction=True)
    assert claimed.status_code == 201, claimed.text
    claim_id = claimed.json()["claim_id"]
    reads: list[str] = []
    page.on("request", lambda request: reads.append(request.url))
    page.reload()
    row = page.locator(f'tr[data-claim-id="{claim_id}"]')
    expect(row).to_contain_text("CINE-1")
    expect(row).to_contain_text("Not required")  # its fulfillment status
    # From the claims list itself (admin-only members): no GET /claims/{id} per claim.
    assert [url for url in reads if "/claims/" in url] == []
    expect(page.locator(".balance")).to_have_text("950")
    expect(page.locator(".held")).to_have_text("1 reward held")
    expect(page.get_by_role("table", name="Points ledger")).to_contain_text("Welcome bonus")
    chromium.shoot(page, "participant")

    row.get_by_role("button", name="Reverse").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("300 points go back to alice@example.com")
    dialog.get_by_role("button", name="Cancel").click()  # changing one's mind changes nothing
    expect(dialog).to_have_count(0)
    assert api.get(f"/claims/{claim_id}").json()["status"] == "succeeded"

    row.get_by_role("button", name="Reverse").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Return code CINE-1 to the inventory (restock)")).to_be_checked()
    dialog.get_by_label("Reason (optional)").fill("Customer complaint")
    dialog.get_by_role("button", name="Reverse claim").click()
    expect(page.locator(".reversal-result")).to_have_text(
        "Claim reversed: 300 points refunded. "
        "Code returned to stock: “Cinema Ticket” now has 3 available codes."
    )
    expect(page.locator(".balance")).to_have_text("1,250")
    # The reversed claim is listed, but no longer held (it once showed "1 reward held").
    expect(page.locator(".held")).to_have_text("0 rewards held")
    expect(page.locator(f'tr[data-claim-id="{claim_id}"]')).to_contain_text("Reversed")
    expect(page.locator(f'tr[data-claim-id="{claim_id}"]').get_by_role("button")).to_have_count(0)

    reversed_claim = api.get(f"/claims/{claim_id}").json()
    assert reversed_claim["status"] == "reversed"
    assert reversed_claim["reversal"]["restocked"] is True
    assert reversed_claim["reversal"]["reason"] == "Customer complaint"
    assert api.get("/participants/alice@example.com/points").json()["balance"] == 1250
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 3


def test_a_refused_credit_shows_its_message_by_the_field(signed_in: Page, api: Api) -> None:
    page = signed_in
    page.goto(page.url.split("#")[0] + "#/participant/bob")
    page.get_by_label("Points", exact=True).fill("-5")
    page.get_by_role("button", name="Credit points").click()
    expect(page.locator('[data-error-for="amount"]')).to_contain_text("greater than or equal to 1")
    assert api.get("/participants/bob/points").json()["balance"] == 0


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two computed `rgb(r, g, b)` colours."""

    def luminance(css: str) -> float:
        parts = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
        assert len(parts) == 3, css  # opaque colours only: a see-through one has no ratio
        channels = []
        for part in parts:
            c = int(part) / 255
            channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
        red, green, blue = channels
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def label_contrast(page: Page, button: Locator) -> float:
    colours = button.evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.color, s.backgroundColor]; }"
    )
    return contrast(colours[0], colours[1])


def test_a_credit_typed_with_thousands_separators(signed_in: Page, api: Api) -> None:
    page = signed_in
    page.goto(page.url.split("#")[0] + "#/participant/carol")
    page.get_by_label("Points", exact=True).fill("2,500")  # as the balance is shown
    page.get_by_role("button", name="Credit points").click()
    expect(page.locator(".balance")).to_have_text("2,500")
    assert api.get("/participants/carol/points").json()["balance"] == 2500


def test_one_reverse_dialog_per_double_click_with_a_readable_danger_button(
    signed_in: Page, api: Api
) -> None:
    reward = api.create_reward(name="Museum Pass", points_cost=1000)
    api.upload(reward["id"], ["MUSEUM-1"])
    api.credit("carol", 2500)
    assert api.claim(reward["id"], "carol", points_deduction=True).status_code == 201
    page = signed_in
    page.goto(page.url.split("#")[0] + "#/participant/carol")
    page.get_by_role("button", name="Reverse").dblclick()  # one dialog, however many clicks
    dialog = page.get_by_role("dialog")
    expect(dialog.first).to_contain_text("1,000 points go back to carol")
    page.wait_for_load_state("networkidle")  # a second click's read, if any, has answered
    expect(dialog).to_have_count(1)
    confirm = dialog.get_by_role("button", name="Reverse claim")
    assert label_contrast(page, confirm) >= 4.5
    confirm.hover()  # the white label stays readable (WCAG AA 4.5:1)
    assert label_contrast(page, confirm) >= 4.5
    page.mouse.move(0, 0)
    confirm.focus()
    assert label_contrast(page, confirm) >= 4.5
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert api.get("/participants/carol/points").json()["balance"] == 1500
