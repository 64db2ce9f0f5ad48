"""Every access rule: a stable id, and one line in French and in English.

consent decides with these rules and dossier enforces them (it narrows a grant to a category, or
refuses a closed dossier). Grants carry the rule id and both explanations, so support staff and the
patient can see why; the audit trail records the id; tests are named after the ids.
"""

from __future__ import annotations

RULES: dict[str, tuple[str, str]] = {
    # rule id: (français, English)
    "R-HOLDER": ("titulaire du dossier", "the holder of the dossier"),
    "R-HOLDER-WRITES": (
        "le titulaire ajoute ses propres documents",
        "the holder adds their own documents",
    ),
    "R-REPRESENTATIVE": ("représentant légal d'un mineur", "the legal representative of a minor"),
    "R-MAJORITY": (
        "le droit du représentant légal cesse aux 18 ans du mineur",
        "a legal representative's right ends at the minor's 18th birthday",
    ),
    "R-OTHER-PATIENT": (
        "un patient n'agit que sur son propre dossier",
        "a patient may act only on their own dossier",
    ),
    "R-SUSPENDED": ("ce compte est suspendu", "this account is suspended"),
    "R-BLOCKED": (
        "le patient a bloqué ce professionnel",
        "the patient has blocked this professional",
    ),
    "R-PRO-OPENS": (
        "un professionnel peut ouvrir un dossier avec le consentement du patient",
        "a professional may open a dossier with the patient's consent",
    ),
    "R-HOLDER-MANAGES": (
        "seul le patient ferme, rouvre, supprime ou règle son dossier",
        "only the patient closes, reopens, deletes or sets up their dossier",
    ),
    "R-HISTORY-HOLDER": (
        "seuls le patient et son médecin traitant voient l'historique des accès",
        "only the patient and their médecin traitant see the access history",
    ),
    "R-MT-HISTORY": (
        "le médecin traitant voit l'historique des accès",
        "the médecin traitant sees the access history",
    ),
    "R-MEDECIN-TRAITANT": (
        "médecin traitant déclaré : accès à tout, documents masqués compris",
        "the declared médecin traitant sees everything, masked documents included",
    ),
    "R-CONSENT": (
        "autorisé par le patient, dans les droits de sa profession",
        "authorised by the patient, within the profession's rights",
    ),
    "R-CARE-TEAM": (
        "membre de l'équipe de soins, patient informé et non opposé",
        "a care team member: the patient was informed and did not object",
    ),
    "R-NO-CONSENT": (
        "le patient n'a pas autorisé ce professionnel",
        "the patient has not authorised this professional",
    ),
    "R-MATRIX": (
        "cette profession n'a accès à aucune catégorie pour cette action",
        "this profession may access no category for this action",
    ),
    "R-VISIBILITY": (
        "document masqué ou rendu invisible pour cet acteur",
        "the document is masked from or invisible to this actor",
    ),
    "R-MATRIX-CATEGORY": (
        "cette catégorie de document n'est pas accessible à cette profession",
        "this document category is not open to this profession",
    ),
    "R-EMERGENCY": (
        "accès d'urgence (bris de glace) : lecture et ajout, limité dans le temps",
        "emergency access (break glass): read and add, for a limited time",
    ),
    "R-REGULATOR-EMERGENCY": (
        "régulateur du SAMU en urgence : lecture seule, limitée dans le temps",
        "SAMU regulator in an emergency: read only, for a limited time",
    ),
    "R-EMERGENCY-OPPOSED": (
        "le patient s'est opposé à cet accès d'urgence",
        "the patient has opposed this kind of emergency access",
    ),
    "R-EMERGENCY-READ-ONLY": (
        "l'accès d'urgence du régulateur est en lecture seule",
        "the regulator's emergency access is read only",
    ),
    "R-OCCUPATIONAL": (
        "un médecin du travail n'accède qu'avec le consentement explicite du patient",
        "an occupational doctor needs the patient's explicit consent",
    ),
    "R-OCCUPATIONAL-CONSENT": (
        "médecin du travail autorisé explicitement par le patient",
        "an occupational doctor explicitly authorised by the patient",
    ),
    "R-COUNTER-OPENS": (
        "un agent de l'Assurance Maladie peut ouvrir un dossier avec le consentement du patient",
        "an Assurance Maladie counter agent may open a dossier with the patient's consent",
    ),
    "R-NO-CONTENT": (
        "l'Assurance Maladie et les systèmes ne lisent jamais le contenu",
        "the Assurance Maladie and systems never read content",
    ),
    "R-FEED-WRITES": (
        "le flux de l'Assurance Maladie n'ajoute que des données de remboursement",
        "the Assurance Maladie feed adds reimbursement data only",
    ),
    "R-FEED-ONLY": (
        "seul le flux de remboursement agit sur plusieurs dossiers à la fois",
        "only the reimbursement feed acts on many dossiers at once",
    ),
    "R-DOSSIER-CLOSED": (
        "le dossier est fermé : son contenu est inaccessible",
        "the dossier is closed: its content is inaccessible",
    ),
    "R-DENY-DEFAULT": (
        "aucune règle ne donne accès à cet acteur",
        "no rule gives this actor access",
    ),
    "R-AUTHOR-ONLY": (
        "seul l'auteur du document peut le remplacer ou le supprimer",
        "only the document's author may replace or delete it",
    ),
    "R-HOLDER-ONLY": (
        "seul le patient modifie ses coordonnées",
        "only the patient changes their contact details",
    ),
    "R-CONSENT-RECORDER": (
        "seul un professionnel enregistre le consentement du patient à son accès",
        "only a professional records a patient's consent to their access",
    ),
    "R-BLOCK-MT": (
        "le médecin traitant ne peut pas être bloqué : changez d'abord de médecin traitant",
        "the médecin traitant cannot be blocked: change the médecin traitant first",
    ),
    "R-STATE-CONFLICT": (
        "l'action n'est pas possible dans l'état actuel du dossier ou du document ; rien n'a été fait",
        "the action is not possible in the dossier's or document's current state; nothing was done",
    ),
    "R-INVALID-REQUEST": (
        "la demande est invalide ; rien n'a été fait",
        "the request is invalid; nothing was done",
    ),
    "R-MT-DECLARER": (
        "le médecin traitant est déclaré par le patient ou par l'Assurance Maladie ; un médecin "
        "peut seulement le proposer",
        "the médecin traitant is declared by the patient or the Assurance Maladie; a médecin may "
        "only propose themselves",
    ),
    "R-UNKNOWN-DOCUMENT": (
        "aucun document de ce dossier ne porte cet identifiant",
        "no document of this dossier has this id",
    ),
    "R-UNKNOWN-PATIENT": (
        "aucun dossier n'est celui d'un patient portant cet identifiant",
        "no dossier is that of a patient with this id",
    ),
    "R-LOGIN-CODE": (
        "le code à usage unique est faux ou a expiré",
        "the one-time code is wrong or has expired",
    ),
    "R-TOKEN": ("le jeton d'accès n'est pas valide", "the access token is not valid"),
}


def explain(rule: str) -> tuple[str, str]:
    """(français, English) for a rule id; an unknown id is a bug, and says so."""
    return RULES.get(rule, (f"règle {rule}", f"rule {rule}"))
