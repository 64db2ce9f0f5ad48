"""Issue 17, items 1, 7 and 9: who may make a médecin traitant, emergency access decided before it is
recorded, and the patient told of every change of who may access their dossier. Real broker, store, SMTP."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.common.actors import Actor, ActorKind, Role
from services.common.cards import Card
from services.common.errors import AccessDenied, Conflict, InvalidInput
from services.consent.matrix import Matrix, Row
from services.consent.rules import Facts, may_break_glass
from tests.conftest import People, service_database
from tests.identities import make_rpps
from tests.journeys import become_medecin_traitant, eventually, submission
from tests.mailbox import ACCESS_NEWS, MT_NEWS, Mailbox


def rule_of(call: Any) -> str:
    with pytest.raises(AccessDenied) as error:
        call()
    return str(error.value.details[0]["rule"])


def doctor_with_email(cluster: Any, email: str, roles: list[str] | None = None) -> tuple[str, str]:
    rpps = make_rpps()
    cluster.identity.register_professional(
        {
            "rpps": rpps,
            "profession": "10",
            "given_name": "M",
            "family_name": "T",
            "email": email,
            "roles": roles or [],
        }
    )
    return rpps, cluster.identity.issue_dev_token({"kind": "professional", "rpps": rpps})[
        "access_token"
    ]


def history_types(cluster: Any, patient: str, ins: str) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = cluster.audit.history(patient, ins, {"limit": 200})["traces"]
    return traces


# Item 1


def test_any_medecin_makes_themselves_medecin_traitant(
    cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    email, mt_email = "mt.change@patients.dmp-test.fr", "dr.ancien@cabinet.dmp-test.fr"
    ins, patient = people.patient(email=email)
    cluster.dossier.open(patient, {"ins": ins})
    rpps_author, author = people.professional("10")
    cluster.consent.record_consent(author, ins)
    document_id = cluster.dossier.add_document(author, ins, submission(b"%PDF-1.4 secret"))[
        "document_id"
    ]
    cluster.dossier.set_visibility(patient, ins, document_id, {"masked": True})
    rpps_mt, mt = doctor_with_email(cluster, mt_email)
    become_medecin_traitant(cluster, ins, patient, mt, rpps_mt)

    rpps_intruder, intruder = people.professional("10")  # no consent of the patient
    proposal = cluster.consent.declare_medecin_traitant(intruder, ins, {"patient_agreed": True})
    assert (
        proposal["status"] == "proposed" and proposal["professional_id"] == f"rpps:{rpps_intruder}"
    )
    assert (
        rule_of(lambda: cluster.dossier.read_document(intruder, ins, document_id)) == "R-NO-CONSENT"
    )
    assert rule_of(lambda: cluster.dossier.search(intruder, ins)) == "R-NO-CONSENT"
    assert cluster.consent.grant(intruder, ins, "read_history")["allowed"] is False
    assert cluster.audit.history(intruder, ins)["audience"] == "document_author"
    settings = cluster.consent.settings(patient, ins)
    assert settings["medecin_traitant"] == f"rpps:{rpps_mt}"  # the real one is not demoted
    assert [p["professional_id"] for p in settings["medecin_traitant_proposals"]] == [
        f"rpps:{rpps_intruder}"
    ]
    assert (
        cluster.dossier.read_document(mt, ins, document_id)["access"]["rule"]
        == "R-MEDECIN-TRAITANT"
    )
    proposed = smtp_server.wait_for(
        email, 2, "propose"
    )  # the patient hears of the proposal (after the MT's own)
    assert any(f"RPPS {rpps_intruder}" in mail.get_content() for mail in proposed)
    assert smtp_server.messages(mt_email) == []  # nothing changed for the médecin traitant yet

    # Nobody but the patient's side confirms: not the proposer, not another doctor.
    for someone in (intruder, author):
        assert (
            rule_of(
                lambda who=someone: cluster.consent.confirm_medecin_traitant(
                    who, ins, {"professional_id": f"rpps:{rpps_intruder}"}
                )
            )
            == "R-HOLDER-MANAGES"
        )
    with pytest.raises(Conflict):  # a doctor who did not propose cannot be confirmed
        cluster.consent.confirm_medecin_traitant(
            patient, ins, {"professional_id": f"rpps:{rpps_author}"}
        )
    assert cluster.consent.settings(patient, ins)["medecin_traitant"] == f"rpps:{rpps_mt}"

    confirmed = cluster.consent.confirm_medecin_traitant(
        patient, ins, {"professional_id": f"rpps:{rpps_intruder}"}
    )
    assert (
        confirmed["medecin_traitant"] == f"rpps:{rpps_intruder}"
        and confirmed["previous"] == f"rpps:{rpps_mt}"
    )
    settings = cluster.consent.settings(patient, ins)
    assert (
        settings["medecin_traitant"] == f"rpps:{rpps_intruder}"
        and settings["medecin_traitant_proposals"] == []
    )
    assert (
        cluster.dossier.read_document(intruder, ins, document_id)["access"]["rule"]
        == "R-MEDECIN-TRAITANT"
    )
    assert rule_of(lambda: cluster.dossier.read_document(mt, ins, document_id)) == "R-NO-CONSENT"
    changed = smtp_server.wait_for(email, 2, "a changé")  # the first declaration, then this change
    assert any(f"RPPS {rpps_intruder}" in mail.get_content() for mail in changed)
    to_previous = smtp_server.wait_for(mt_email, 1, "plus le médecin traitant")[0]
    assert (
        "l'un de vos patients" in to_previous.get_content() and ins not in to_previous.get_content()
    )


def test_a_doctor_proposing_for_another_or_a_non_doctor_is_refused(
    cluster: Any, people: People
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    _, doctor = people.professional("10")
    with pytest.raises(InvalidInput) as error:
        cluster.consent.declare_medecin_traitant(
            doctor, ins, {"professional_id": f"rpps:{make_rpps()}"}
        )
    assert error.value.details[0]["field"] == "professional_id"
    _, nurse = people.professional("60")
    with pytest.raises(InvalidInput):
        cluster.consent.declare_medecin_traitant(nurse, ins, {"patient_agreed": True})
    # the patient's own token cannot declare through the professionals' route: they confirm a proposal
    assert (
        rule_of(
            lambda: cluster.consent.declare_medecin_traitant(patient, ins, {"patient_agreed": True})
        )
        == "R-MT-DECLARER"
    )
    assert cluster.consent.settings(patient, ins)["medecin_traitant"] is None


@pytest.fixture
def feed(cluster: Any, tmp_path: Path) -> str:
    card = Card()
    cluster.identity.register_system(
        {"client_id": "reimbursement-feed", "public_key": card.public_pem}
    )
    nonce = cluster.identity.request_card_challenge(
        {"actor_id": "system:reimbursement-feed"}, "test"
    )["nonce"]
    answer = cluster.identity.login_with_card(
        {"actor_id": "system:reimbursement-feed", "nonce": nonce, "signature": card.sign(nonce)},
        "t",
    )
    token: str = answer["access_token"]
    return token


def test_the_assurance_maladie_feed_declares_the_medecin_traitant(
    cluster: Any, people: People, feed: str, smtp_server: Mailbox
) -> None:
    email, old_email = "feed.mt@patients.dmp-test.fr", "dr.precedent@cabinet.dmp-test.fr"
    ins, patient = people.patient(email=email)
    cluster.dossier.open(patient, {"ins": ins})
    rpps_old, old = doctor_with_email(cluster, old_email)
    become_medecin_traitant(cluster, ins, patient, old, rpps_old)
    rpps_new, new = people.professional("10")
    with pytest.raises(InvalidInput):  # the feed names the médecin
        cluster.consent.declare_medecin_traitant(feed, ins, {})
    rpps_nurse, _ = people.professional("60")
    with pytest.raises(InvalidInput):  # a registered médecin only
        cluster.consent.declare_medecin_traitant(
            feed, ins, {"professional_id": f"rpps:{rpps_nurse}"}
        )
    with pytest.raises(InvalidInput):
        cluster.consent.declare_medecin_traitant(
            feed, ins, {"professional_id": f"rpps:{make_rpps()}"}
        )
    declared = cluster.consent.declare_medecin_traitant(
        feed, ins, {"professional_id": f"rpps:{rpps_new}"}
    )
    assert declared["status"] == "declared" and declared["previous"] == f"rpps:{rpps_old}"
    assert cluster.consent.grant(new, ins, "read")["rule"] == "R-MEDECIN-TRAITANT"
    assert cluster.consent.grant(old, ins, "read")["rule"] == "R-NO-CONSENT"
    assert smtp_server.wait_for(email, 1, "a changé")
    assert smtp_server.wait_for(old_email, 1, "plus le médecin traitant")


# Item 7


def test_an_occupational_physicians_emergency_access_is_started(
    cluster: Any, people: People, smtp_server: Mailbox, environment: dict[str, str]
) -> None:
    email = "travail@patients.dmp-test.fr"
    ins, patient = people.patient(email=email)
    cluster.dossier.open(patient, {"ins": ins})
    rpps = people.professional_with_roles("10", ["occupational_physician"])
    occupational = cluster.identity.issue_dev_token({"kind": "professional", "rpps": rpps})[
        "access_token"
    ]
    reason = {"reason": "malaise sur le lieu de travail, patient inconscient"}
    assert (
        rule_of(lambda: cluster.consent.break_glass(occupational, ins, reason)) == "R-OCCUPATIONAL"
    )
    # even with the patient's explicit consent, an emergency gives an occupational doctor nothing more
    cluster.consent.authorise_occupational_doctor(patient, ins, {"professional_id": f"rpps:{rpps}"})
    assert (
        rule_of(lambda: cluster.consent.break_glass(occupational, ins, reason)) == "R-OCCUPATIONAL"
    )

    consent_db = service_database(environment, "consent")
    assert consent_db.facts.count_documents({"kind": "emergency"}) == 0
    assert sorted(r["rule"] for r in consent_db.refusals.find({})) == [
        "R-OCCUPATIONAL",
        "R-OCCUPATIONAL",
    ]

    def refusals() -> list[dict[str, Any]]:
        return [t for t in history_types(cluster, patient, ins) if t["type"] == "access_denied"]

    eventually(lambda: len(refusals()) == 2)
    assert {(t["outcome"], t["rule"]) for t in refusals()} == {("denied", "R-OCCUPATIONAL")}
    assert "emergency_access_started" not in {
        t["type"] for t in history_types(cluster, patient, ins)
    }

    _, urgentist = people.professional(
        "10"
    )  # a real emergency afterwards: the only one the patient hears of
    assert cluster.consent.break_glass(urgentist, ins, reason)["rule"] == "R-EMERGENCY"
    smtp_server.wait_for(email, 1, "urgence")
    eventually(
        lambda: (
            "emergency_access_started" in {t["type"] for t in history_types(cluster, patient, ins)}
        )
    )
    assert len(smtp_server.messages(email, "urgence")) == 1


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FACTS = Facts(ins="180017512345660", patient_id="pat_1")


@pytest.mark.parametrize(
    "actor, refusal",
    [
        (
            Actor(
                kind=ActorKind.PROFESSIONAL,
                id="rpps:1",
                profession="10",
                roles=(Role.OCCUPATIONAL_PHYSICIAN,),
            ),
            "R-OCCUPATIONAL",
        ),
        (
            Actor(kind=ActorKind.PROFESSIONAL, id="rpps:2", profession="99"),
            "R-MATRIX",
        ),  # a row that grants nothing
        (Actor(kind=ActorKind.PROFESSIONAL, id="rpps:3", profession="21"), "R-MATRIX"),
        (Actor(kind=ActorKind.PATIENT, id="pat_2", ins="280017512345600"), "R-DENY-DEFAULT"),
        (Actor(kind=ActorKind.COUNTER_AGENT, id="agent:1"), "R-DENY-DEFAULT"),
        (Actor(kind=ActorKind.SYSTEM, id="system:reimbursement-feed"), "R-DENY-DEFAULT"),
        (Actor(kind=ActorKind.PROFESSIONAL, id="rpps:4", profession="10"), None),
    ],
)
def test_break_glass_is_refused_to_whoever_the_emergency_would_give_nothing(
    actor: Actor, refusal: str | None
) -> None:
    matrix = Matrix(
        "test",
        NOW.date(),
        {
            "10": Row(frozenset({"10"}), frozenset({"10"})),
            "21": Row(frozenset(), frozenset({"10"})),
        },
    )
    assert (
        may_break_glass(actor, FACTS, False, False, matrix, NOW, NOW + timedelta(hours=1))
        == refusal
    )


# Item 9


def test_interventions_that_change_who_may_access_the_dossier_are_notified(
    cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    email, mt_email = "interventions@patients.dmp-test.fr", "dr.premier@cabinet.dmp-test.fr"
    ins, patient = people.patient(email=email)
    cluster.dossier.open(patient, {"ins": ins})
    rpps_doctor, doctor = people.professional("10")
    cluster.consent.record_consent(doctor, ins)
    consent_mail = smtp_server.wait_for(email, 1, "consentement")[0]
    assert (
        f"RPPS {rpps_doctor}" in consent_mail.get_content()
        and "bloquez" in consent_mail.get_content()
    )
    rpps_nurse, nurse = people.professional("60")
    cluster.consent.join_care_team(nurse, ins, {"patient_informed": True})
    assert (
        f"RPPS {rpps_nurse}" in smtp_server.wait_for(email, 1, "équipe de soins")[0].get_content()
    )
    assert len(smtp_server.messages(email, ACCESS_NEWS)) == 2

    rpps_first, first = doctor_with_email(cluster, mt_email)
    become_medecin_traitant(
        cluster, ins, patient, first, rpps_first
    )  # declared: proposed, then confirmed
    assert smtp_server.wait_for(email, 1, "propose")
    assert f"RPPS {rpps_first}" in smtp_server.wait_for(email, 1, "a changé")[0].get_content()
    rpps_second, second = people.professional("10")
    become_medecin_traitant(cluster, ins, patient, second, rpps_second)  # changed
    assert smtp_server.wait_for(email, 2, "a changé")
    assert smtp_server.wait_for(mt_email, 1, "plus le médecin traitant")
    cluster.consent.end_medecin_traitant(patient, ins)  # ended
    assert smtp_server.wait_for(email, 1, "plus de médecin traitant")
    assert len(smtp_server.messages(email, MT_NEWS)) == 5  # 2 proposals, 2 changes, 1 end

    # a repeated consent that changes nothing tells nothing; the digest takes these as routine events
    cluster.consent.record_consent(doctor, ins)
    cluster.dossier.search(
        doctor, ins
    )  # a first access, mailed after anything the repeat could have sent
    smtp_server.wait_for(email, 1, "Consultation")
    assert len(smtp_server.messages(email, ACCESS_NEWS)) == 2
