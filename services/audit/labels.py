"""How traces are shown: plain labels for people, FHIR R4 AuditEvent export.

The trace shape follows IHE's Basic Audit Log Patterns: who (actor, profession, organisation), what
(event type, document), when, from where (the service), why (the rule; emergency), outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from services.audit.records import Trace
from services.common.events import ActorRef, Outcome

LABELS: dict[str, tuple[str, str]] = {  # event type: (français, English)
    "dossier_opened": ("Ouverture du dossier", "Dossier opened"),
    "dossier_closed": ("Fermeture du dossier", "Dossier closed"),
    "dossier_reopened": ("Réouverture du dossier", "Dossier reopened"),
    "dossier_deletion_requested": (
        "Demande de suppression du dossier",
        "Deletion of the dossier requested",
    ),
    "document_added": ("Ajout d'un document", "Document added"),
    "document_read": ("Consultation d'un document", "Document read"),
    "documents_listed": ("Consultation de la liste des documents", "List of documents viewed"),
    "first_access": ("Premier accès de ce professionnel", "First access by this professional"),
    "document_replaced": ("Remplacement d'un document", "Document replaced"),
    "document_archived": ("Archivage d'un document", "Document archived"),
    "document_deleted": ("Suppression d'un document", "Document deleted"),
    "document_masked": ("Masquage d'un document", "Document masked"),
    "document_unmasked": ("Démasquage d'un document", "Document unmasked"),
    "document_released": ("Document rendu visible", "Document made visible"),
    "access_denied": ("Accès refusé", "Access refused"),
    "operator_command": ("Commande d'exploitation", "Operator command"),
    "consent_recorded": ("Autorisation d'accès enregistrée", "Consent to access recorded"),
    "consent_withdrawn": ("Autorisation d'accès retirée", "Consent to access withdrawn"),
    "care_team_joined": ("Entrée dans l'équipe de soins", "Joined the care team"),
    "medecin_traitant_declared": ("Déclaration du médecin traitant", "Médecin traitant declared"),
    "professional_blocked": ("Professionnel bloqué", "Professional blocked"),
    "emergency_access_started": (
        "Accès d'urgence (bris de glace)",
        "Emergency access (break glass)",
    ),
    "personal_space_updated": ("Mise à jour de l'espace personnel", "Personal space updated"),
    "personal_space_read": ("Consultation de l'espace personnel", "Personal space read"),
    "reimbursements_added": ("Ajout de données de remboursement", "Reimbursement data added"),
    "logged_in": ("Connexion", "Logged in"),
    "session_ended": (
        "Fin de session (déconnexion, ou jeton de renouvellement rejoué)",
        "Session ended (logout, or a replayed refresh token)",
    ),
    "patient_registered": ("Création du compte", "Account created"),
    "professional_registered": ("Inscription d'un professionnel", "Professional registered"),
    "agent_registered": (
        "Inscription d'un agent de l'Assurance Maladie",
        "Assurance Maladie agent registered",
    ),
    "system_registered": ("Inscription d'un système", "System registered"),
    "account_status_changed": ("Changement d'état du compte", "Account status changed"),
    "contact_changed": ("Changement des coordonnées", "Contact details changed"),
    "representative_added": ("Ajout d'un représentant légal", "Legal representative added"),
    "dossier_purged": ("Effacement du dossier", "Dossier erased"),
    "dossier_key_rewrapped": ("Renouvellement de la clé de chiffrement", "Encryption key renewed"),
    "care_team_objected": (
        "Opposition à un membre de l'équipe de soins",
        "Objection to a care team member",
    ),
    "medecin_traitant_ended": ("Fin du médecin traitant", "Médecin traitant ended"),
    "medecin_traitant_proposed": ("Proposition de médecin traitant", "Médecin traitant proposed"),
    "professional_unblocked": ("Professionnel débloqué", "Professional unblocked"),
    "emergency_oppositions_set": ("Choix pour l'accès d'urgence", "Emergency access choices set"),
    "occupational_consent_given": (
        "Autorisation donnée au médecin du travail",
        "Consent given to the occupational doctor",
    ),
    "document_unarchived": ("Désarchivage d'un document", "Document unarchived"),
    "invisibility_reminder_due": (
        "Rappel d'un document non encore visible",
        "Reminder of a document not yet visible",
    ),
    "login_failed": ("Échec de connexion (code à usage unique)", "Failed login (one-time code)"),
    "authentication_refused": ("Jeton d'accès refusé", "Access token refused"),
}
ACTIONS = {
    "added": "C",
    "opened": "C",
    "recorded": "C",
    "read": "R",
    "listed": "R",
    "access": "R",
    "deleted": "D",
    "purged": "D",
}


def label(event_type: str, language: str) -> str:
    french, english = LABELS.get(event_type, (event_type, event_type))
    return french if language == "fr" else english


def public(trace: Trace, language: str) -> dict[str, Any]:
    return {
        "event_id": trace.event_id,
        "type": trace.type.value,
        "label": label(trace.type, language),
        "occurred_at": trace.occurred_at.isoformat(),
        "actor": _actor(trace.actor),
        "document_id": trace.document_id,
        "outcome": trace.outcome.value,
        "rule": trace.rule,
        "emergency": trace.emergency,
    }


def _actor(actor: ActorRef | None) -> dict[str, Any] | None:
    # The fields the trace was written with, no more: a trace written before an actor had an organisation
    # shows none, as it always did.
    return None if actor is None else actor.model_dump(mode="json", exclude_unset=True)


def audit_event(trace: Trace) -> dict[str, Any]:
    """One trace as a FHIR R4 AuditEvent (identifiers only, as in the trail itself)."""
    verb = trace.type.rsplit("_", 1)[-1]
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": trace.event_id.replace("_", "-"),
        "type": {
            "system": "http://dicom.nema.org/resources/ontology/DCM",
            "code": "110110",
            "display": "Patient Record",
        },
        "subtype": [
            {
                "system": "urn:dmp:event-type",
                "code": trace.type.value,
                "display": label(trace.type, "en"),
            }
        ],
        "action": ACTIONS.get(verb, "E"),
        "recorded": trace.occurred_at.astimezone(UTC).isoformat(),
        "outcome": "0" if trace.outcome is Outcome.SUCCESS else "4",
        "agent": [
            {
                "who": {
                    "identifier": _agent((trace.actor.id if trace.actor else None) or "system")
                },
                "requestor": True,
            }
        ],
        "source": {"observer": {"display": f"dmp-{trace.source}"}},
        "entity": [
            {
                "what": {
                    "identifier": {"system": "urn:dmp:patient", "value": trace.patient_id or "-"}
                },
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                },
            }
        ],
    }
    if trace.rule:
        resource["outcomeDesc"] = trace.rule
    if trace.emergency:
        resource["purposeOfEvent"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": "ETREAT",
                        "display": "Emergency Treatment",
                    }
                ]
            }
        ]
    if trace.document_id:
        document = {"system": "urn:dmp:document", "value": trace.document_id}
        resource["entity"].append(
            {
                "what": {"identifier": document},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "2",
                },
            }
        )
    return resource


def fhir_bundle(traces: Sequence[Trace], total: int) -> dict[str, Any]:
    """One page of the history; `total` counts every trace this reader may see, not only this page's."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": total,
        "entry": [{"resource": audit_event(trace)} for trace in traces],
    }


def _agent(actor_id: str) -> dict[str, str]:
    """A professional by their RPPS (national identifier system), anyone else by our actor id."""
    if actor_id.startswith("rpps:"):
        return {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": actor_id.removeprefix("rpps:")}
    return {"system": "urn:dmp:actor", "value": actor_id}
