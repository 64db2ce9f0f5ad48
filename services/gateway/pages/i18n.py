"""The words of the patient pages, in French (the default) and English.

One table, keyed by what a text is for, so that a missing translation is a KeyError in the tests
rather than a blank on a patient's screen.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")

TEXTS: dict[str, tuple[str, str]] = {
    # Frame
    "site": ("Mon dossier médical partagé", "My shared medical record"),
    "skip": ("Aller au contenu", "Skip to content"),
    "nav": ("Navigation principale", "Main navigation"),
    "nav.dossier": ("Mes documents", "My documents"),
    "nav.personal_space": ("Mon espace personnel", "My personal space"),
    "nav.history": ("Qui a consulté mon dossier", "Who accessed my record"),
    "nav.settings": ("Mes réglages", "My settings"),
    "nav.lifecycle": ("Fermer ou supprimer", "Close or delete"),
    "logout": ("Se déconnecter", "Log out"),
    "language": ("Langue", "Language"),
    "other_language": ("English", "Français"),
    "error.title": ("Cette action n'a pas abouti", "This could not be done"),
    "error.request_id": ("Référence pour l'assistance", "Reference for support"),
    "error.unexpected": (
        "Une erreur inattendue s'est produite ; elle a été enregistrée. Réessayez plus tard.",
        "An unexpected error occurred; it has been logged. Please try again later.",
    ),
    "error.unavailable": (
        "Le service est momentanément indisponible. Réessayez dans quelques instants.",
        "The service is unavailable for a moment. Please try again shortly.",
    ),
    "error.session": (
        "Votre session a expiré : reconnectez-vous.",
        "Your session has expired: please log in again.",
    ),
    "error.form": (
        "Le formulaire a expiré : recommencez.",
        "The form has expired: please try again.",
    ),
    "error.fields": ("Corrigez les champs signalés.", "Please correct the fields marked."),
    "code.invalid_input": (
        "Certaines informations ne sont pas valables.",
        "Some information is not valid.",
    ),
    "code.unauthenticated": ("Connexion refusée.", "Login refused."),
    "code.access_denied": ("Accès refusé.", "Access refused."),
    "code.not_found": ("Introuvable.", "Not found."),
    "code.conflict": (
        "Ce n'est pas possible dans l'état actuel.",
        "This is not possible as things stand.",
    ),
    "code.too_many_requests": (
        "Trop de tentatives : patientez avant de réessayer.",
        "Too many attempts: please wait before trying again.",
    ),
    "code.payload_too_large": ("C'est trop volumineux.", "This is too large."),
    "code.service_unavailable": (
        "Le service est momentanément indisponible.",
        "The service is unavailable.",
    ),
    "save": ("Enregistrer", "Save"),
    "cancel": ("Annuler", "Cancel"),
    "yes": ("Oui", "Yes"),
    "no": ("Non", "No"),
    "optional": ("facultatif", "optional"),
    "none": ("Aucun", "None"),
    # Professional pages (/pro)
    "pro.site": ("DMP — accès professionnel", "DMP — professional access"),
    "pro.nav.search": ("Trouver un patient", "Find a patient"),
    "pro.nav.patient": ("Patient", "Patient"),
    "pro.nav.dossier": ("Dossier", "Record"),
    "pro.nav.summary": ("Synthèse de soins", "Care summary"),
    "pro.login.title": ("Connexion professionnelle", "Professional login"),
    "pro.login.intro": (
        "Connectez-vous avec votre identité nationale de professionnel de santé (Pro Santé "
        "Connect : carte CPS ou e-CPS).",
        "Log in with your national health professional identity (Pro Santé Connect: CPS card "
        "or e-CPS).",
    ),
    "pro.login.start": ("Se connecter avec Pro Santé Connect", "Log in with Pro Santé Connect"),
    "pro.login.refused.no_login": (
        "Aucune connexion n'était en cours dans ce navigateur, ou elle a expiré : recommencez.",
        "No login was in progress in this browser, or it expired: please start again.",
    ),
    "pro.login.refused.state": (
        "La réponse du fournisseur d'identité ne correspond pas à la connexion "
        "commencée dans ce navigateur (state) : connexion refusée.",
        "The identity provider's answer does not belong to the login started in this "
        "browser (state): login refused.",
    ),
    "pro.login.refused.issuer": (
        "La réponse vient d'un autre fournisseur d'identité que celui sollicité : "
        "connexion refusée.",
        "The answer comes from another identity provider than the one asked: login refused.",
    ),
    "pro.login.refused.provider": (
        "Le fournisseur d'identité a refusé la connexion.",
        "The identity provider refused the login.",
    ),
    "pro.login.refused.code": (
        "Le code de connexion a été refusé (déjà utilisé, expiré ou émis pour une autre "
        "connexion) : recommencez.",
        "The login code was refused (already used, expired "
        "or issued for another login): please start again.",
    ),
    "pro.login.refused.token": (
        "L'identité transmise par le fournisseur a été refusée.",
        "The identity sent by the provider was refused.",
    ),
    "pro.login.refused.unavailable": (
        "Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants.",
        "The identity provider does not answer. Please try again shortly.",
    ),
    "pro.login.refused.misconfigured": (
        "La connexion professionnelle n'est pas configurée sur ce service.",
        "Professional login is not configured on this service.",
    ),
    "pro.welcome.title": ("Vous êtes connecté", "You are logged in"),
    "pro.welcome.go": ("Continuer : trouver un patient", "Continue: find a patient"),
    "pro.search.title": ("Trouver un patient", "Find a patient"),
    "pro.search.intro": (
        "Saisissez l'INS et les traits d'identité lus sur la carte Vitale ou une pièce "
        "d'identité : rien n'est affiché tant qu'ils ne concordent pas.",
        "Enter the INS and the identity traits read from the Vitale card or an ID: nothing is "
        "shown until they match.",
    ),
    "pro.search.family_name": ("Nom de naissance", "Family name"),
    "pro.search.birth_date": ("Date de naissance", "Date of birth"),
    "pro.search.submit": ("Vérifier l'identité", "Check the identity"),
    "pro.search.mismatch": (
        "Aucun patient ne correspond à cet INS, ce nom et cette date de naissance. Vérifiez "
        "la carte Vitale ou la pièce d'identité.",
        "No patient matches this INS, family name and date of birth. Check the Vitale card "
        "or the ID.",
    ),
    "pro.patient.title": ("Patient vérifié", "Patient checked"),
    "pro.patient.name": ("Nom", "Name"),
    "pro.patient.forget": ("Changer de patient", "Another patient"),
    "pro.consent.title": ("Consentement du patient", "The patient's consent"),
    "pro.consent.intro": (
        "Le patient vous autorise oralement à accéder à son dossier : enregistrez-le. Il "
        "est daté d'aujourd'hui, à votre nom, et le patient peut le retirer.",
        "The patient authorises you orally to access their record: record it. It is dated "
        "today, in your name, and the patient can withdraw it.",
    ),
    "pro.consent.agreed": (
        "Le patient m'a donné son consentement",
        "The patient gave me their consent",
    ),
    "pro.consent.required": (
        "Cochez cette case si le patient a consenti.",
        "Tick this box if the patient consented.",
    ),
    "pro.consent.until": ("Jusqu'au", "Until"),
    "pro.consent.submit": ("Enregistrer le consentement", "Record the consent"),
    "pro.regulator.read_only": (
        "Médecin régulateur du SAMU : vous lisez le dossier en urgence, sans rien y "
        "ajouter ni changer.",
        "SAMU regulator: you read the record in an emergency, and add or change nothing.",
    ),
    "pro.open.title": ("Ouvrir le dossier", "Open the record"),
    "pro.open.intro": (
        "Le patient n'a pas encore de DMP ? Avec son accord, ouvrez-le pour lui : il en est "
        "informé et le gère ensuite dans son espace.",
        "The patient has no DMP yet? With their agreement, open it for them: they are told, "
        "and manage it in their own pages.",
    ),
    "pro.open.agreed": (
        "Le patient accepte l'ouverture de son dossier",
        "The patient agrees to open their record",
    ),
    "pro.open.required": (
        "Cochez cette case si le patient accepte l'ouverture.",
        "Tick this box if the patient agrees to the opening.",
    ),
    "pro.open.submit": ("Ouvrir le dossier", "Open the record"),
    "pro.mt.title": ("Médecin traitant", "Médecin traitant"),
    "pro.mt.intro": (
        "Le patient vous choisit comme médecin traitant ? Proposez-vous : vous le devenez quand il "
        "le confirme dans son espace.",
        "The patient chooses you as their médecin traitant? Propose yourself: you become it when "
        "they confirm it in their own pages.",
    ),
    "pro.mt.agreed": (
        "Le patient me choisit comme médecin traitant",
        "The patient chooses me as médecin traitant",
    ),
    "pro.mt.required": (
        "Cochez cette case si le patient vous a choisi.",
        "Tick this box if the patient chose you.",
    ),
    "pro.mt.submit": ("Me proposer comme médecin traitant", "Propose myself as médecin traitant"),
    "done.dossier_opened": ("Le dossier du patient est ouvert.", "The patient's record is open."),
    "done.mt_proposed": (
        "Votre proposition est enregistrée : le patient la confirme dans son espace.",
        "Your proposal is recorded: the patient confirms it in their own pages.",
    ),
    "pro.nav.deposit": ("Déposer un document", "Add a document"),
    "pro.nav.history": ("Traces", "Traces"),
    "pro.history.title": (
        "Traces du dossier que vous pouvez voir",
        "The record's traces you may see",
    ),
    "pro.deposit.title": ("Déposer un document", "Add a document"),
    "pro.deposit.intro": (
        "Un fichier PDF ou un document CDA R2, avec ses métadonnées des nomenclatures nationales.",
        "A PDF file or a CDA R2 document, with its metadata from the national code lists.",
    ),
    "pro.deposit.file": ("Fichier (PDF ou CDA R2)", "File (PDF or CDA R2)"),
    "pro.deposit.file_missing": ("Choisissez le fichier à déposer.", "Choose the file to add."),
    "pro.deposit.file_too_large": (
        "Ce fichier dépasse la taille maximale d'un document.",
        "This file is larger than a document may be.",
    ),
    "pro.deposit.file_format": (
        "Ce fichier n'est ni un PDF ni un document CDA R2.",
        "This file is neither a PDF nor a CDA R2 document.",
    ),
    "pro.deposit.title_field": ("Titre du document", "Document title"),
    "pro.deposit.category": ("Classe du document", "Document class"),
    "pro.deposit.type": ("Type de document", "Document type"),
    "pro.deposit.care_date": ("Date de l'acte", "Date of care"),
    "pro.deposit.confidentiality": ("Confidentialité", "Confidentiality"),
    "pro.deposit.confidentiality.N": ("Normale", "Normal"),
    "pro.deposit.confidentiality.R": ("Restreinte", "Restricted"),
    "pro.deposit.confidentiality.V": ("Très restreinte", "Very restricted"),
    "pro.deposit.invisible_patient": (
        "Invisible pour le patient (en attente d'une consultation d'annonce)",
        "Invisible to the patient (awaiting an announcement consultation)",
    ),
    "pro.deposit.invisible_representatives": (
        "Invisible pour les représentants légaux",
        "Invisible to the legal representatives",
    ),
    "pro.deposit.choose": ("Choisir…", "Choose…"),
    "pro.deposit.submit": ("Déposer", "Add to the record"),
    "pro.emergency.title": ("Accès en urgence", "Emergency access"),
    "pro.emergency.intro": (
        "Le patient ne peut pas consentir et sa santé est en danger : accès pour une heure, "
        "tracé, le patient en est informé (sauf opposition de sa part).",
        "The patient cannot consent and their health is at risk: access for one hour, traced, "
        "the patient is told (unless they opposed it).",
    ),
    "pro.emergency.reason": ("Motif (10 caractères au moins)", "Reason (at least 10 characters)"),
    "pro.emergency.submit": ("Accéder en urgence", "Emergency access"),
    "done.emergency_started": (
        "Accès en urgence ouvert pour une heure.",
        "Emergency access open for one hour.",
    ),
    "done.deposited": (
        "Le document a été déposé dans le dossier.",
        "The document was added to the record.",
    ),
    "done.consent": (
        "Le consentement du patient est enregistré.",
        "The patient's consent is recorded.",
    ),
    "pro.dossier.title": ("Dossier", "Record"),
    "pro.dossier.documents": ("Documents", "Documents"),
    "pro.dossier.next": ("Documents suivants", "Next documents"),
    "pro.dossier.back": ("Retour au dossier", "Back to the record"),
    "pro.dossier.emergency": (
        "Accès en urgence, jusqu'au {until}",
        "Emergency access, until {until}",
    ),
    "pro.space.title": ("Espace personnel du patient", "The patient's personal space"),
    "pro.space.withheld": (
        "Votre profession n'a pas accès à l'espace personnel",
        "Your profession may not read the personal space",
    ),
    "pro.space.pathologies": ("Pathologies", "Conditions"),
    "pro.space.treatments": ("Traitements déclarés", "Treatments declared"),
    "pro.space.contacts": ("Personnes à prévenir", "Emergency contacts"),
    "pro.space.directives": ("Directives anticipées", "Advance directives"),
    "pro.filter.category": ("Catégorie", "Category"),
    "pro.filter.all": ("Toutes", "All"),
    "pro.filter.type": ("Type (code LOINC)", "Type (LOINC code)"),
    "pro.filter.type_hint": ("par exemple 11488-4", "for example 11488-4"),
    "pro.filter.author": ("Auteur", "Author"),
    "pro.filter.author_hint": ("par exemple rpps:10000000009", "for example rpps:10000000009"),
    "pro.filter.from": ("Soins à partir du", "Care from"),
    "pro.filter.to": ("Soins jusqu'au", "Care until"),
    "pro.filter.submit": ("Filtrer", "Filter"),
    "pro.summary.title": ("Synthèse de soins", "Care summary"),
    "pro.summary.period": ("Du {since} au {until}", "From {since} to {until}"),
    "pro.summary.withheld.reimbursements": (
        "Médicaments et actes non communiqués à votre profession",
        "Medicines and acts not given to your profession",
    ),
    "pro.summary.withheld.allergies": (
        "Allergies non communiquées à votre profession",
        "Allergies not given to your profession",
    ),
    "pro.summary.not_shown": ("Non communiqué.", "Not given."),
    "pro.summary.medicines": ("Médicaments délivrés (24 mois)", "Medicines dispensed (24 months)"),
    "pro.summary.substance": ("Substance", "Substance"),
    "pro.summary.first": ("Première délivrance", "First dispensed"),
    "pro.summary.last": ("Dernière délivrance", "Last dispensed"),
    "pro.summary.dispensings": ("Délivrances", "Dispensings"),
    "pro.summary.acts": ("Examens et actes", "Exams and acts"),
    "pro.summary.redundant": ("peut-être redondant", "possibly redundant"),
    "pro.summary.latest": (
        "Dernier document de chaque catégorie",
        "Latest document of each category",
    ),
    # Login
    "login.title": ("Connexion", "Log in"),
    "login.intro": (
        "Saisissez votre identifiant national de santé (INS, 15 caractères, sur votre carte "
        "Vitale) : nous vous envoyons un code à usage unique.",
        "Enter your national health identifier (INS, 15 characters, on your Vitale card): we "
        "send you a one-time code.",
    ),
    "login.ins": ("Identifiant national de santé (INS)", "National health identifier (INS)"),
    "login.ins_hint": (
        "15 caractères, par exemple 180012A00100161",
        "15 characters, for example 180012A00100161",
    ),
    "login.channel": ("Recevoir le code par", "Receive the code by"),
    "login.email": ("Courriel", "Email"),
    "login.sms": ("SMS", "Text message (SMS)"),
    "login.send": ("Recevoir un code", "Send me a code"),
    "login.code_title": ("Saisissez votre code", "Enter your code"),
    "login.code_sent": (
        "Si cet INS a un compte, un code à 6 chiffres vient d'être envoyé. Il est valable "
        "{minutes} minutes.",
        "If this INS has an account, a 6-digit code has just been sent. It is valid for "
        "{minutes} minutes.",
    ),
    "login.code": ("Code à 6 chiffres", "6-digit code"),
    "login.submit": ("Se connecter", "Log in"),
    "login.code_refused": (
        "Code incorrect ou expiré. Après 5 erreurs, demandez un nouveau code.",
        "Wrong or expired code. After 5 mistakes, ask for a new code.",
    ),
    "login.again": ("Recevoir un nouveau code", "Send a new code"),
    "done.logged_out": ("Vous êtes déconnecté.", "You are logged out."),
    # Overview
    "overview.title": ("Mes documents", "My documents"),
    "overview.count": ("{count} document(s)", "{count} document(s)"),
    "overview.empty": (
        "Votre dossier ne contient encore aucun document.",
        "Your record has no documents yet.",
    ),
    "overview.none": (
        "Vous n'avez pas encore de dossier médical partagé.",
        "You do not have a shared medical record yet.",
    ),
    "overview.open_explained": (
        "L'ouvrir permet aux professionnels que vous autorisez d'y déposer et d'y "
        "consulter vos documents de santé. Vous pourrez le fermer à tout moment.",
        "Opening it lets the professionals you authorise add and read your health "
        "documents. You can close it at any time.",
    ),
    "overview.open": ("Ouvrir mon dossier", "Open my record"),
    "overview.closed": (
        "Votre dossier est fermé : son contenu est inaccessible.",
        "Your record is closed: its content cannot be read.",
    ),
    "overview.deleting": (
        "Vous avez demandé la suppression de votre dossier : son contenu est illisible et "
        "sera effacé.",
        "You asked for your record to be deleted: its content is unreadable and will be erased.",
    ),
    "overview.more": (
        "Les {shown} documents les plus récents sont affichés.",
        "The {shown} most recent documents are shown.",
    ),
    "doc.care_date": ("Date des soins", "Date of care"),
    "doc.added": ("Déposé le", "Added on"),
    "doc.author": ("Auteur", "Author"),
    "doc.format": ("Format", "Format"),
    "doc.masked": ("Masqué aux professionnels", "Hidden from professionals"),
    "doc.open": ("Ouvrir", "Open"),
    "doc.mask": ("Masquer aux professionnels", "Hide from professionals"),
    "doc.unmask": ("Ne plus masquer", "Stop hiding"),
    "doc.mask_explained": (
        "Un document masqué reste visible par son auteur et votre médecin traitant.",
        "A hidden document stays visible to its author and your médecin traitant.",
    ),
    "doc.download": ("Télécharger le document", "Download the document"),
    "doc.no_preview": (
        "Ce format ne s'affiche pas ici : téléchargez-le.",
        "This format is not shown here: download it.",
    ),
    "doc.back": ("Retour à mes documents", "Back to my documents"),
    "doc.section": ("Section", "Section"),
    "done.masked": (
        "Le document est masqué aux professionnels.",
        "The document is hidden from professionals.",
    ),
    "done.unmasked": ("Le document n'est plus masqué.", "The document is no longer hidden."),
    "done.opened": ("Votre dossier est ouvert.", "Your record is open."),
    # Personal space
    "ps.title": ("Mon espace personnel", "My personal space"),
    "ps.intro": (
        "Ces informations sont les vôtres : vous les renseignez et les modifiez quand vous voulez.",
        "This information is yours: you fill it in and change it whenever you like.",
    ),
    "ps.blood_group": ("Groupe sanguin", "Blood group"),
    "ps.unknown": ("Non renseigné", "Not stated"),
    "ps.allergies": ("Allergies", "Allergies"),
    "ps.substance": ("Substance", "Substance"),
    "ps.reaction": ("Réaction", "Reaction"),
    "ps.severity": ("Gravité", "Severity"),
    "ps.mild": ("Légère", "Mild"),
    "ps.moderate": ("Modérée", "Moderate"),
    "ps.severe": ("Grave", "Severe"),
    "ps.pathologies": ("Maladies", "Conditions"),
    "ps.pathology": ("Maladie", "Condition"),
    "ps.treatments": ("Traitements", "Treatments"),
    "ps.treatment": ("Médicament", "Medicine"),
    "ps.dosage": ("Posologie", "Dosage"),
    "ps.since": ("Depuis le", "Since"),
    "ps.contacts": ("Personnes à prévenir en cas d'urgence", "Emergency contacts"),
    "ps.name": ("Nom", "Name"),
    "ps.relation": ("Lien", "Relationship"),
    "ps.phone": ("Téléphone mobile (format +33…)", "Mobile phone (format +33…)"),
    "ps.email": ("Courriel", "Email"),
    "ps.trusted_person": ("Personne de confiance", "Trusted person"),
    "ps.directives": ("Directives anticipées", "Advance directives"),
    "ps.directives_written": (
        "J'ai rédigé des directives anticipées",
        "I have written advance directives",
    ),
    "ps.kept_by": ("Où elles se trouvent", "Where they are kept"),
    "ps.organ_donation": ("Don d'organes", "Organ donation"),
    "ps.not_stated": ("Je ne me prononce pas", "Not stated"),
    "ps.consents": ("J'y consens", "I consent"),
    "ps.refuses": ("Je refuse", "I refuse"),
    "ps.entry": ("Ligne {number}", "Row {number}"),
    "ps.empty_rows": (
        "Laissez une ligne vide pour ne rien ajouter. Videz une ligne pour la retirer.",
        "Leave a row empty to add nothing. Empty a row to remove it.",
    ),
    "ps.version": ("Version {version}", "Version {version}"),
    "done.personal_space": (
        "Votre espace personnel est enregistré.",
        "Your personal space is saved.",
    ),
    # History
    "history.title": ("Qui a consulté mon dossier", "Who accessed my record"),
    "history.filters": ("Filtrer", "Filter"),
    "history.from": ("Du", "From"),
    "history.to": ("Au", "To"),
    "history.professional": (
        "Identifiant du professionnel (par exemple rpps:…)",
        "Professional's identifier (for example rpps:…)",
    ),
    "history.action": ("Action", "Action"),
    "history.all": ("Toutes", "All"),
    "history.apply": ("Afficher", "Show"),
    "history.when": ("Date", "Date"),
    "history.who": ("Qui", "Who"),
    "history.what": ("Quoi", "What"),
    "history.emergency": ("Accès d'urgence", "Emergency access"),
    "history.empty": ("Aucune trace pour ces critères.", "No trace for these criteria."),
    "history.next": ("Traces plus anciennes", "Older traces"),
    "history.you": ("Vous", "You"),
    "history.system": ("Le système", "The system"),
    "history.agent": ("Assurance Maladie", "Assurance Maladie"),
    "history.outcome_denied": ("refusé", "refused"),
    # Settings
    "settings.title": ("Mes réglages", "My settings"),
    "settings.who": ("Qui peut accéder à mon dossier", "Who may access my record"),
    "settings.medecin_traitant": ("Médecin traitant", "Médecin traitant"),
    "settings.consents": ("Professionnels autorisés", "Authorised professionals"),
    "settings.care_team": ("Équipe de soins", "Care team"),
    "settings.since": ("depuis le", "since"),
    "settings.blocks": ("Professionnels bloqués", "Blocked professionals"),
    "settings.blocks_explained": (
        "Un professionnel bloqué ne voit rien de votre dossier, même en urgence.",
        "A blocked professional sees nothing of your record, not even in an emergency.",
    ),
    "settings.block_id": (
        "Identifiant du professionnel à bloquer (par exemple rpps:10101010101)",
        "Identifier of the professional to block (for example rpps:10101010101)",
    ),
    "settings.block": ("Bloquer", "Block"),
    "settings.unblock": ("Débloquer {who}", "Unblock {who}"),
    "settings.emergency": ("Accès en cas d'urgence", "Access in an emergency"),
    "settings.oppose_emergency": (
        "Je m'oppose à l'accès d'urgence (« bris de glace ») par les professionnels",
        'I object to emergency ("break glass") access by professionals',
    ),
    "settings.oppose_regulator": (
        "Je m'oppose à la lecture de mon dossier par le médecin régulateur du SAMU",
        "I object to the SAMU regulator reading my record",
    ),
    "settings.notifications": ("Mes notifications", "My notifications"),
    "settings.channels": ("Me prévenir par", "Notify me by"),
    "settings.both": ("Courriel et SMS", "Email and SMS"),
    "settings.routine": ("Pour les nouveaux documents", "For new documents"),
    "settings.immediate": ("Tout de suite", "At once"),
    "settings.daily_digest": ("Un résumé par jour", "One summary a day"),
    "settings.always": (
        "Les accès d'urgence, le premier accès d'un professionnel et les changements de médecin "
        "traitant vous sont toujours signalés tout de suite.",
        "Emergency access, a professional's "
        "first access and changes of médecin traitant are always notified at once.",
    ),
    "settings.message_language": ("Langue des messages", "Language of the messages"),
    "settings.account_language": ("Celle de mon compte", "My account's"),
    "done.blocked": ("Le professionnel est bloqué.", "The professional is blocked."),
    "done.unblocked": ("Le professionnel est débloqué.", "The professional is unblocked."),
    "settings.mt_proposals": (
        "Médecins qui proposent d'être votre médecin traitant",
        "Doctors proposing to be your médecin traitant",
    ),
    "settings.mt_proposals_explained": (
        "Un médecin qui le propose n'a aucun accès supplémentaire tant que vous ne l'avez pas confirmé. "
        "Votre médecin traitant actuel, s'il y en a un, en sera informé.",
        "A doctor who proposes it gets no further access until you confirm it. Your current médecin traitant, "
        "if any, will be told.",
    ),
    "settings.mt_confirm": (
        "Confirmer {who} comme mon médecin traitant",
        "Confirm {who} as my médecin traitant",
    ),
    "done.medecin_traitant": (
        "Votre médecin traitant est enregistré.",
        "Your médecin traitant is saved.",
    ),
    "done.emergency": (
        "Vos choix pour l'urgence sont enregistrés.",
        "Your emergency choices are saved.",
    ),
    "done.notifications": (
        "Vos préférences de notification sont enregistrées.",
        "Your notification preferences are saved.",
    ),
    # Lifecycle
    "lifecycle.title": (
        "Fermer, rouvrir ou supprimer mon dossier",
        "Close, reopen or delete my record",
    ),
    "lifecycle.status": ("État de votre dossier", "State of your record"),
    "status.open": ("ouvert", "open"),
    "status.closed": ("fermé", "closed"),
    "status.deletion_requested": ("suppression demandée", "deletion requested"),
    "lifecycle.purge_at": (
        "Effacement définitif prévu le {date}",
        "To be erased for good on {date}",
    ),
    "lifecycle.close": ("Fermer mon dossier", "Close my record"),
    "lifecycle.close_explained": (
        "Plus personne, vous compris, ne pourra lire son contenu. Il est conservé "
        "10 ans puis effacé, sauf si vous le rouvrez : tout est alors rétabli.",
        "Nobody, you included, will be able to read its content. It is kept for 10 "
        "years then erased, unless you reopen it: everything is then restored.",
    ),
    "lifecycle.reopen": ("Rouvrir mon dossier", "Reopen my record"),
    "lifecycle.reopen_explained": (
        "Votre dossier redevient accessible tel qu'il était, avec les mêmes autorisations.",
        "Your record becomes accessible as it was, with the same authorisations.",
    ),
    "lifecycle.deletion": (
        "Demander la suppression de mon dossier",
        "Ask for my record to be deleted",
    ),
    "lifecycle.deletion_explained": (
        "Son contenu devient illisible immédiatement et tout est effacé dans les "
        "3 mois. C'est définitif : il ne pourra pas être rouvert.",
        "Its content becomes unreadable at once and everything is erased within 3 "
        "months. This is final: it cannot be reopened.",
    ),
    "lifecycle.confirm_title": ("Confirmez", "Please confirm"),
    "lifecycle.confirm_close": ("Oui, fermer mon dossier", "Yes, close my record"),
    "lifecycle.confirm_reopen": ("Oui, rouvrir mon dossier", "Yes, reopen my record"),
    "lifecycle.confirm_deletion": (
        "Oui, supprimer définitivement mon dossier",
        "Yes, delete my record for good",
    ),
    "done.close": ("Votre dossier est fermé.", "Your record is closed."),
    "done.reopen": ("Votre dossier est rouvert.", "Your record is reopened."),
    "done.deletion": (
        "La suppression de votre dossier est demandée.",
        "Deletion of your record is requested.",
    ),
}


def text(language: Language, key: str, **values: object) -> str:
    french, english = TEXTS[key]
    chosen = french if language == "fr" else english
    return chosen.format(**values) if values else chosen


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> Language:
    """An explicit choice (link or cookie) wins; then the browser's first language; French by default."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    first = (accept_language or "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "fr"


CATEGORIES_EN: dict[str, str] = {  # codes.CATEGORIES holds the French names of TRE_A03
    "10": "Reports",
    "11": "Summaries",
    "31": "Medical imaging",
    "42": "Prescriptions",
    "43": "Dispensing",
    "44": "Care plans",
    "45": "Treatments given",
    "52": "Certificates and declarations",
    "60": "Reimbursement data",
    "90": "Documents I added",
    "95": "Administrative documents",
}

FIELD_HINTS: dict[
    str, tuple[str, str]
] = {  # the last part of a field's name: what a valid value looks like
    "ins": (
        "L'INS comporte 15 caractères (13 chiffres, ou 2A/2B pour la Corse, et une clé de 2 chiffres) ; "
        "vérifiez-le sur votre carte Vitale.",
        "The INS has 15 characters (13 digits, or 2A/2B for "
        "Corsica, and a 2-digit key); check it on your Vitale card.",
    ),
    "code": ("Le code comporte 6 chiffres.", "The code has 6 digits."),
    "phone": (
        "Numéro de mobile au format international, par exemple +33612345678.",
        "Mobile number in international format, for example +33612345678.",
    ),
    "email": ("Adresse de courriel non valable.", "Not a valid email address."),
    "since": ("Date non valable (jj/mm/aaaa).", "Not a valid date."),
    "date_from": ("Date non valable.", "Not a valid date."),
    "date_to": ("Date non valable.", "Not a valid date."),
    "professional_id": (
        "Identifiant non valable : rpps: suivi des 11 chiffres du RPPS.",
        "Not a valid identifier: rpps: followed by the 11 digits of the RPPS.",
    ),
}
MISSING = ("Ce champ est obligatoire.", "This field is required.")
TOO_LONG = ("C'est trop long.", "This is too long.")
TOO_MANY = ("Il y a trop de lignes.", "There are too many rows.")
