"""FHIR's conditional read and PATCH preconditions (services/gateway/fhir_conditional.py): pure."""

from datetime import UTC, datetime

import pytest

from services.gateway.fhir_conditional import InvalidHeader, expected_version, not_modified

CHANGED = datetime(2026, 11, 23, 8, 0, 0, 123000, tzinfo=UTC)  # Last-Modified: ... 08:00:00 GMT


@pytest.mark.parametrize(
    ("header", "version"),
    [(None, None), ("*", None), ('W/"2"', 2), ('"2"', 2), (' W/"17" ', 17)],
)
def test_if_match_names_the_version_a_patch_is_made_on(
    header: str | None, version: int | None
) -> None:
    assert expected_version(header) == version


@pytest.mark.parametrize("header", ["2", 'W/"x"', 'W/"2", W/"3"', 'W/"0"', 'W/"02"', "W/2", '"2'])
def test_a_malformed_if_match_is_refused_naming_the_header(header: str) -> None:
    with pytest.raises(InvalidHeader) as refused:
        expected_version(header)
    assert refused.value.status == 400 and refused.value.details[0]["field"] == "If-Match"


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "unchanged"),
    [
        ('W/"2"', None, True),
        ('"2"', None, True),  # weak comparison: the same version
        ('W/"1"', None, False),
        ('W/"1", W/"2"', None, True),
        ("*", None, True),
        (None, "Mon, 23 Nov 2026 08:00:00 GMT", True),  # the same second: not modified since
        (None, "Mon, 23 Nov 2026 07:59:59 GMT", False),
        (None, "Tue, 24 Nov 2026 00:00:00 GMT", True),
        ('W/"1"', "Tue, 24 Nov 2026 00:00:00 GMT", False),  # If-None-Match decides alone
        (None, None, False),
    ],
)
def test_a_read_is_not_modified_when_the_client_holds_the_current_version(
    if_none_match: str | None, if_modified_since: str | None, unchanged: bool
) -> None:
    assert not_modified("2", CHANGED, if_none_match, if_modified_since) is unchanged


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "header"),
    [
        ("2", None, "If-None-Match"),
        (None, "yesterday", "If-Modified-Since"),
        (None, "", "If-Modified-Since"),
    ],
)
def test_a_malformed_condition_is_refused_naming_its_header(
    if_none_match: str | None, if_modified_since: str | None, header: str
) -> None:
    with pytest.raises(InvalidHeader) as refused:
        not_modified("2", CHANGED, if_none_match, if_modified_since)
    assert refused.value.details[0]["field"] == header
