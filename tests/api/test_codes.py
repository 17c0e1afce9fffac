"""Code uploads: JSON and CSV, duplicates counted and added once, upload order kept."""

from __future__ import annotations

from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, codes_in_seq_order, error_fields


def upload_csv(caller: Caller, reward_id: str, text: str | bytes, content_type: str = "text/csv"):  # type: ignore[no-untyped-def]
    return caller.post(
        f"/rewards/{reward_id}/codes",
        data=text,
        headers={"Content-Type": content_type},
    )


def test_a_json_upload_adds_codes_and_reports_what_is_available(
    admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()

    result = admin.upload(reward["id"], ["SAVE-1", "SAVE-2", "SAVE-3"])

    assert result == {"added": 3, "duplicates": 0, "available_codes": 3}
    assert admin.reward(reward["id"])["available_codes"] == 3
    assert codes_in_seq_order(runtime, reward["id"]) == [
        (1, "SAVE-1"),
        (2, "SAVE-2"),
        (3, "SAVE-3"),
    ]


def test_duplicates_within_one_upload_are_counted_and_added_once(
    admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()

    result = admin.upload(reward["id"], ["A", "B", "A", "C", "B", "A"])

    assert result == {"added": 3, "duplicates": 3, "available_codes": 3}
    assert [value for _, value in codes_in_seq_order(runtime, reward["id"])] == ["A", "B", "C"]


def test_codes_already_present_are_duplicates_and_new_ones_go_after_the_old(
    admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    admin.upload(reward["id"], ["Z-3", "Z-1", "Z-2"])

    result = admin.upload(reward["id"], ["Z-2", "A-9", "Z-3", "A-8"])

    assert result == {"added": 2, "duplicates": 2, "available_codes": 5}
    assert codes_in_seq_order(runtime, reward["id"]) == [
        (1, "Z-3"),
        (2, "Z-1"),
        (3, "Z-2"),
        (4, "A-9"),
        (5, "A-8"),
    ]


def test_an_upload_of_only_known_codes_adds_nothing(admin: Caller) -> None:
    reward = admin.create_reward()
    admin.upload(reward["id"], ["K-1", "K-2"])

    assert admin.upload(reward["id"], ["K-2", "K-1"]) == {
        "added": 0,
        "duplicates": 2,
        "available_codes": 2,
    }


def test_the_same_code_may_belong_to_two_rewards(admin: Caller) -> None:
    first, second = admin.create_reward(), admin.create_reward()

    assert admin.upload(first["id"], ["SHARED"])["added"] == 1
    assert admin.upload(second["id"], ["SHARED"])["added"] == 1


def test_codes_are_trimmed_before_they_are_compared(admin: Caller, runtime: Runtime) -> None:
    reward = admin.create_reward()

    result = admin.upload(reward["id"], ["  PAD-1", "PAD-1  ", "PAD-2"])

    assert result == {"added": 2, "duplicates": 1, "available_codes": 2}
    assert [v for _, v in codes_in_seq_order(runtime, reward["id"])] == ["PAD-1", "PAD-2"]


def test_a_csv_upload_takes_one_code_a_line_and_skips_blank_lines(
    admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()

    response = upload_csv(admin, reward["id"], "CSV-2\r\nCSV-1\n\n   \nCSV-3\nCSV-1\n")

    assert response.status_code == 200
    assert response.json == {"added": 3, "duplicates": 1, "available_codes": 3}
    assert [v for _, v in codes_in_seq_order(runtime, reward["id"])] == ["CSV-2", "CSV-1", "CSV-3"]


def test_a_csv_upload_with_a_charset_and_a_byte_order_mark_keeps_the_first_code(
    admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()

    response = upload_csv(
        admin, reward["id"], "\ufeffBOM-1\nBOM-2\n".encode(), "text/csv; charset=utf-8"
    )

    assert response.status_code == 200
    assert response.json["added"] == 2
    assert [v for _, v in codes_in_seq_order(runtime, reward["id"])] == ["BOM-1", "BOM-2"]


def test_a_csv_line_with_two_columns_is_refused_and_nothing_is_added(admin: Caller) -> None:
    reward = admin.create_reward()

    response = upload_csv(admin, reward["id"], "OK-1\nOK-2,EXTRA\nOK-3\n")

    assert error_fields(response) == {"line 2"}
    assert admin.reward(reward["id"])["available_codes"] == 0


def test_a_csv_that_is_not_valid_csv_is_a_validation_error_not_a_crash(admin: Caller) -> None:
    reward = admin.create_reward()

    too_long = upload_csv(admin, reward["id"], "X" * 200_000)
    unclosed = upload_csv(admin, reward["id"], 'A\n"' + "B" * 200_000)

    assert_problem(too_long, 400, "validation_error")
    assert_problem(unclosed, 400, "validation_error")
    assert admin.reward(reward["id"])["available_codes"] == 0


def test_an_empty_upload_is_refused(admin: Caller) -> None:
    reward = admin.create_reward()

    assert error_fields(admin.post(f"/rewards/{reward['id']}/codes", {"codes": []})) == {"codes"}
    assert error_fields(upload_csv(admin, reward["id"], "\n\n")) == {"codes"}
    assert admin.reward(reward["id"])["available_codes"] == 0


def test_an_upload_with_one_bad_code_adds_none_of_them(admin: Caller) -> None:
    reward = admin.create_reward()

    for bad in ["", "   ", "tab\there", "caf\u00e9", "x" * 256, 7, None]:
        response = admin.post(f"/rewards/{reward['id']}/codes", {"codes": ["GOOD", bad]})
        assert error_fields(response) == {"codes.1"}, bad
    assert admin.reward(reward["id"])["available_codes"] == 0


def test_an_upload_body_must_be_exactly_codes(admin: Caller) -> None:
    reward = admin.create_reward()

    assert error_fields(
        admin.post(f"/rewards/{reward['id']}/codes", {"codes": ["A"], "replace": True})
    ) == {"replace"}
    assert error_fields(admin.post(f"/rewards/{reward['id']}/codes", ["A", "B"])) == {"body"}
    assert error_fields(admin.post(f"/rewards/{reward['id']}/codes", {"codes": "A"})) == {"codes"}
    assert admin.reward(reward["id"])["available_codes"] == 0


def test_a_hundred_thousand_codes_upload_in_one_request_in_order(
    admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    codes = [f"BULK-{n:06d}" for n in range(100_000)]
    codes[50_000] = "BULK-000007"  # one duplicate inside the upload

    response = admin.post(f"/rewards/{reward['id']}/codes", {"codes": codes})

    assert response.status_code == 200
    assert response.json == {"added": 99_999, "duplicates": 1, "available_codes": 99_999}
    assert admin.reward(reward["id"])["available_codes"] == 99_999
    stored = codes_in_seq_order(runtime, reward["id"])
    assert [seq for seq, _ in stored] == list(range(1, 100_000))
    assert [value for _, value in stored] == list(dict.fromkeys(codes))


def test_a_large_csv_upload_counts_duplicates_against_existing_codes(admin: Caller) -> None:
    reward = admin.create_reward()
    admin.upload(reward["id"], [f"CSV-{n:05d}" for n in range(0, 20_000, 2)])  # the even ones

    text = "\n".join(f"CSV-{n:05d}" for n in range(20_000))
    response = upload_csv(admin, reward["id"], text)

    assert response.json == {"added": 10_000, "duplicates": 10_000, "available_codes": 20_000}
