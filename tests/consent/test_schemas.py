"""consent's replies go out as the service has always written them (services/consent/schemas.py): instants as
`isoformat()` text ("+00:00", not pydantic's "Z"), dates as YYYY-MM-DD, a missing value as null, never absent."""

from datetime import UTC, date, datetime

from services.common.entrypoints import to_wire
from services.consent.schemas import (
    AccessSettings,
    ConsentRecorded,
    MedecinTraitantDeclared,
    MedecinTraitantProposed,
    ProfessionalSince,
)

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
DR = "rpps:10000000009"


def test_instants_keep_the_offset_the_service_writes_and_dates_stay_dates() -> None:
    recorded = ConsentRecorded(
        professional_id=DR, recorded_at=AT.isoformat(), created=True, until=date(2027, 1, 31)
    )
    assert to_wire(recorded) == {
        "professional_id": DR,
        "recorded_at": "2026-12-02T09:30:00+00:00",
        "created": True,
        "until": "2027-01-31",
    }
    assert (
        to_wire(
            ConsentRecorded(
                professional_id=DR, recorded_at=AT.isoformat(), created=False, until=None
            )
        )["until"]
        is None
    )


def test_a_proposal_and_a_declaration_each_say_their_status_and_only_their_own_fields() -> None:
    assert to_wire(MedecinTraitantProposed(professional_id=DR, proposed_at=AT.isoformat())) == {
        "status": "proposed",
        "professional_id": DR,
        "proposed_at": "2026-12-02T09:30:00+00:00",
    }
    assert to_wire(MedecinTraitantDeclared(medecin_traitant=DR, previous=None, since=None)) == {
        "status": "declared",
        "medecin_traitant": DR,
        "previous": None,
        "since": None,
    }


def test_the_settings_list_who_is_authorised_since_when() -> None:
    since = [ProfessionalSince(professional_id=DR, since=AT.isoformat())]
    wire = to_wire(
        AccessSettings(
            medecin_traitant=None,
            blocked=[],
            medecin_traitant_proposals=since,
            oppose_emergency=False,
            oppose_regulator=True,
            consents=since,
            care_team=[],
            occupational_consents=[],
        )
    )
    assert wire["medecin_traitant"] is None and wire["consents"] == [
        {"professional_id": DR, "since": "2026-12-02T09:30:00+00:00"}
    ]
