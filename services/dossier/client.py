"""The dossier service's RPC methods, typed: what its callers declare their proxy as. Generated from
services/dossier/service.py by `python -m services.common.clients` (tests/common/test_clients.py
fails when it drifts)."""

from __future__ import annotations

from typing import Any, Protocol


class DossierClient(Protocol):
    def add_document(
        self,
        token: str,
        ins: str,
        payload: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Deposit a document. With an idempotency key, a retried request (same key, same body) answers the document
        of the first one instead of creating a second. Callers: clients."""

    def add_documents(
        self,
        token: str,
        ins: str,
        payloads: list[dict[str, object]],
        replaces: list[str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Deposit several documents of one patient together (an ITI-65 submission set): every one is checked
        (metadata, rights, content, duplicates, also among themselves, and the document it replaces, if any)
        before any is stored, so one bad document stores nothing. A refusal names the document by its position
        (`entry`). `replaces[i]`: the id of the document the i-th one is a new version of (same rules as
        replace_document). Callers: clients."""

    def add_reimbursements(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Reimbursement lines for many patients at once, idempotent by line id. Lines older than 24 months,
        malformed, or for a patient without an open dossier are refused one by one, with the reason. Callers:
        clients, operators."""

    def add_submission_set(
        self,
        token: str,
        ins: str,
        submission_set: dict[str, Any],
        payloads: list[dict[str, object]],
        replaces: list[str | None] | None = None,
    ) -> dict[str, Any]:
        """add_documents, keeping the submission set itself (ITI-65's SubmissionSet List, found by ITI-66): who
        submitted which documents, in order, with what its source says of it. Its unique_id is used once per
        dossier; a refusal of the set names `submission_set.<field>`. Callers: clients."""

    def archive_document(
        self,
        token: str,
        ins: str,
        document_id: str,
        archived: bool = True,
        expected_revision: int | None = None,
    ) -> dict[str, Any]:
        """Archived documents leave the default search (status=archived finds them); reversible. `expected_revision`:
        only if the document is still at this revision (else 412, nothing done). Callers: clients."""

    def care_summary(self, token: str, ins: str) -> dict[str, Any]:
        """One screen for a professional: medicines and acts of the last 24 months (class 60), the latest document of
        each category, the allergies of the personal space (class 90), under the document list's grant: a part the
        caller's matrix row does not read is withheld, naming the rule. Callers: clients."""

    def close(self, token: str, ins: str) -> dict[str, Any]:
        """Close the dossier: content inaccessible at once, archived 10 years, restored by reopening. Callers:
        clients."""

    def delete_document(self, token: str, ins: str, document_id: str) -> dict[str, Any]:
        """Deleted by its author: the content is destroyed; a tombstone stays for the history. Callers: clients."""

    def discard_abandoned_deposits(self) -> dict[str, int]:
        """Hourly: deposits cut short and not completed by a retry within a day are discarded: their documents, never
        shown to anyone nor told of, go with their content, and their submission set with them, so that no health
        data is kept out of the patient's sight and its unique id may be used afresh. Callers: operators."""

    def dossiers_of(self, patient_ids: list[str]) -> dict[str, dict[str, str]]:
        """The dossier each of these patients has now (status, when it opened); at most 500 at a time. Callers:
        audit."""

    def find_document(self, token: str, document_id: str, with_content: bool) -> dict[str, Any]:
        """A document by its id alone (FHIR reads): the same checks and trace as through its dossier, and the
        patient's INS with it. An unknown id and a hidden document answer alike (404). Callers: clients."""

    def find_submission_set(self, token: str, submission_set_id: str) -> dict[str, Any]:
        """A submission set by its id alone (ITI-66's read). One the caller may see none of the documents of, or of a
        dossier they may not read, answers exactly like an unknown id (404). Callers: clients."""

    def health(self) -> dict[str, str]:
        """Callers: everyone."""

    def open(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Open the patient's dossier, recording who opened it, through which channel, and the patient's consent to
        opening. Callers: clients."""

    def personal_space(self, token: str, ins: str) -> dict[str, Any]:
        """Blood group, allergies, treatments, contacts, wishes: for the patient's side, and for professionals whose
        matrix row reads the patient's own documents (class 90). Callers: clients."""

    def personal_space_history(self, token: str, ins: str) -> list[dict[str, Any]]:
        """Every version of the personal space, newest first (the patient's side only). Callers: clients."""

    def pharmacy_fees(self, month: str) -> list[dict[str, str]]:
        """The opening fees owed to pharmacies for a month (YYYY-MM): one line per dossier opened. Callers:
        operators."""

    def purge_due(self) -> dict[str, int]:
        """Purge dossiers whose archive has expired or whose deletion is due (hourly; operators may run it). Callers:
        operators."""

    def purge_record(self, dossier_id: str) -> dict[str, Any]:
        """Whether this service purged `dossier_id`, and whose it was. Callers: audit."""

    def read_document(self, token: str, ins: str, document_id: str) -> dict[str, Any]:
        """Callers: clients."""

    def reimbursements(self, token: str, ins: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The patient's reimbursement lines ("données de remboursement", class 60), newest care first. Callers:
        clients."""

    def release_document(self, token: str, ins: str, document_id: str) -> dict[str, Any]:
        """The author makes a document visible to the patient (after the announcement consultation). Callers:
        clients."""

    def release_due(self) -> dict[str, int]:
        """Hourly: documents invisible to the patient for a month become visible; authors of those still invisible
        after two weeks are reminded (once). Callers: operators."""

    def reopen(self, token: str, ins: str) -> dict[str, Any]:
        """Callers: clients."""

    def replace_document(self, token: str, ins: str, document_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A new version by the same author; the old one stays in history as replaced. Callers: clients."""

    def request_deletion(self, token: str, ins: str) -> dict[str, Any]:
        """Delete on request: the key is destroyed now (content unreadable), the rest purged within 3 months.
        Callers: clients."""

    def rewrap_keys(self, limit: int = 500) -> dict[str, int]:
        """Operator action during a master-key rotation: re-wrap data keys with the current master key
        (DMP_MASTER_KEY), the old one being in DMP_PREVIOUS_MASTER_KEYS. Content is not re-encrypted. Callers:
        operators."""

    def search(self, token: str, ins: str | None, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The documents this actor may see, newest first, a page at a time, with an honest total. Without an INS,
        the query's patient_id names the patient (FHIR's `patient` reference). Callers: clients, operators."""

    def search_submission_sets(
        self,
        token: str,
        ins: str | None,
        query: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The submission sets of a dossier with at least one document this actor may see, each showing only those
        documents (the document search's own query under the grant), newest first, an honest total. Without an
        INS, the query's patient_id names the patient. Callers: clients, operators."""

    def set_visibility(
        self,
        token: str,
        ins: str,
        document_id: str,
        payload: dict[str, Any],
        expected_revision: int | None = None,
    ) -> dict[str, Any]:
        """The patient masks a document from professionals (all but its author) or unmasks it. `expected_revision`:
        only if the document is still at this revision (else 412, nothing done). Callers: clients."""

    def status(self, token: str, ins: str) -> dict[str, Any]:
        """Where the dossier stands in its lifecycle, for the patient's side (those who may manage it). Callers:
        clients."""

    def update_personal_space(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient (or their representative) replaces the personal space; every version is kept. Callers:
        clients."""
