"""The professionals' pages, under /pro: log in through the national identity provider (OpenID Connect),
find a patient by INS and identity traits, record their consent, read their dossier and care summary.

Thin handlers over the same services and the same calls as the API, with the professional's own token:
identity checks the traits, consent records the consent, dossier decides what is shown (its refusals
become pages naming the rule). Nothing here decides access.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from services.common.actors import Role
from services.common.codes import CATEGORIES, DOCUMENT_TYPES
from services.common.errors import AccessDenied, NotFound, Unauthenticated
from services.common.validation import describe_items
from services.consent.schemas import Authorisation, BreakGlass
from services.dossier.schemas import DocumentSearch, DocumentSubmission
from services.gateway.app_settings import of_app
from services.gateway.auth import client_address, log_out
from services.gateway.pages import forms, oidc
from services.gateway.pages.routes import (
    CONTENT_POLICY,
    PAGE_POLICY,
    Form,
    category_label,
    history_page,
    render,
)
from services.gateway.pages.session import PRO, PRO_SPACE, Cookie, Visit, start_visit
from services.gateway.pages.viewers import served_part, shown_for
from services.gateway.rpc import services
from services.identity.schemas import IdentityCheck

PATIENT_COOKIE = (
    "dmp_pro_patient"  # the patient whose traits this professional checked, for these pages
)
PAGE_SIZE = 20
FILTERS = ("category", "type_code", "author_id", "care_from", "care_to", "cursor")
LOGIN_STATUS = {
    "no_login": 400,
    "state": 400,
    "issuer": 400,
    "provider": 401,
    "code": 401,
    "token": 401,
    "unavailable": 503,
    "misconfigured": 503,
}


def pro_visit(request: Request) -> Visit:
    return start_visit(request, PRO_SPACE)


Current = Annotated[Visit, Depends(pro_visit)]


def checked_patient(current: Visit, token: str) -> dict[str, str] | None:
    """The patient whose identity traits this browser gave, as identity confirms them again now. The cookie
    holds only the traits typed in (INS, family name, birth date) and is checked on every page: one forged
    or left behind shows nothing that the search itself would not have shown."""
    value = current.request.cookies.get(PATIENT_COOKIE)
    if not value or len(value) > 1024:
        return None
    try:
        check = IdentityCheck.model_validate_json(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, ValidationError):
        return None
    try:
        patient = services().identity.check_patient_identity(token, check.model_dump(mode="json"))
    except NotFound:
        return None
    return {key: str(item) for key, item in patient.items()}


class PatientNotChecked(Exception):
    """No patient whose traits identity confirms: back to the search, and nothing of anyone is shown."""


@dataclass(frozen=True)
class CheckedPatient:
    token: str  # the professional's
    patient: dict[str, str]  # as identity confirmed it for this request


def checked(current: Current) -> CheckedPatient:
    token = current.professional
    patient = checked_patient(current, token)
    if patient is None:
        raise PatientNotChecked
    return CheckedPatient(token, patient)


Checked = Annotated[CheckedPatient, Depends(checked)]


def back_to_search(current: Visit) -> Response:
    current.cookies.append(Cookie(PATIENT_COOKIE, None))
    return current.redirect("/patients")


def login_page(
    current: Visit, status: int = 200, refused: oidc.LoginRefused | None = None
) -> Response:
    """The login page. Its form may lead to the identity provider: browsers apply form-action to the
    redirect that follows a form, so the provider's origin is allowed there, and nothing else."""
    response = render(
        current,
        "pro_login.html",
        status,
        refused=current.t(f"pro.login.refused.{refused.reason}") if refused else None,
        detail=refused.detail if refused else "",
    )
    try:
        issuer = urlparse(oidc.login_issuer(of_app(current.request.app)).issuer)
    except oidc.LoginRefused:
        return response
    if issuer.scheme in ("http", "https") and issuer.netloc:
        response.headers["Content-Security-Policy"] = PAGE_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {issuer.scheme}://{issuer.netloc}"
        )
    return response


def login_refused(current: Visit, refused: oidc.LoginRefused) -> Response:
    current.cookies.append(Cookie(oidc.FLOW_COOKIE, None, samesite="lax"))
    return login_page(current, LOGIN_STATUS.get(refused.reason, 400), refused)


def reads_only(current: Visit) -> bool:
    """The SAMU regulator's pages: emergency access and reading, no consent, deposit or proposal offered."""
    return current.actor is not None and Role.SAMU_REGULATOR in current.actor.roles


def agreed_to(
    current: Visit,
    form: dict[str, str],
    checked: CheckedPatient,
    step: str,
    act: Callable[[str, str], object],
    then: str,
    done: str,
) -> Response:
    """A step the patient agreed to aloud (the box ticked), done by its service, or the patient's page again."""
    current.check_form(form)
    if form.get("patient_agreed") != "on":
        errors = {f"{step}_agreed": current.t(f"pro.{step}.required")}
        return render(
            current,
            "pro_patient.html",
            422,
            patient=checked.patient,
            errors=errors,
            until="",
            reason="",
        )
    act(checked.token, checked.patient["ins"])
    return current.redirect(then, done)


def router() -> APIRouter:
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/")
    def home(current: Current) -> Response:
        return current.redirect("/patients" if current.actor else "/login")

    # Login through the identity provider, logout

    @pages.get("/login")
    def login(current: Current) -> Response:
        return login_page(current)

    @pages.post("/login")
    def start_login(current: Current, form: Form) -> Response:
        current.check_form(form)
        try:
            issuer = oidc.login_issuer(of_app(current.request.app))
            callback = str(current.request.url_for("pro_login_callback"))
            flow = oidc.Flow.start(issuer.issuer, callback, oidc.now())
            target = oidc.authorization_url(issuer, flow)
        except oidc.LoginRefused as refused:
            return login_refused(current, refused)
        # Lax, not Strict: it must come back on the identity provider's redirect, a navigation from its site.
        current.cookies.append(
            Cookie(oidc.FLOW_COOKIE, flow.cookie(), oidc.FLOW_SECONDS, samesite="lax")
        )
        return current.finish(RedirectResponse(target, status_code=303))

    @pages.get(oidc.CALLBACK, name="pro_login_callback")
    def login_callback(current: Current) -> Response:
        answer = {
            key: value
            for key, value in current.request.query_params.items()
            if key in ("code", "state", "iss", "error", "error_description")
        }
        try:
            # Single use: whatever happens next, this login's flow is over.
            flow = oidc.Flow.from_cookie(current.request.cookies.get(oidc.FLOW_COOKIE), oidc.now())
            current.cookies.append(Cookie(oidc.FLOW_COOKIE, None, samesite="lax"))
            code = oidc.check_answer(flow, answer)
            issuer = oidc.login_issuer(of_app(current.request.app))
            if issuer.issuer != flow.issuer:
                raise oidc.LoginRefused("issuer")
            id_token = oidc.exchange(of_app(current.request.app), issuer, flow, code)
            try:
                tokens = services().identity.login_with_external(
                    {"id_token": id_token, "nonce": flow.nonce}, client_address(current.request)
                )
            except Unauthenticated as refused:
                raise oidc.LoginRefused("token", refused.message) from None
        except oidc.LoginRefused as refused:
            return login_refused(current, refused)
        current.start_session(tokens)
        # A page of ours, not a redirect: the session cookies are SameSite=Strict, and a browser would not
        # send them on a redirect chain that began at the identity provider's site.
        return render(current, "pro_welcome.html")

    @pages.post("/logout")
    def logout(current: Current, form: Form) -> Response:
        current.check_form(form)
        if current.token and current.actor is not None:
            log_out(of_app(current.request.app), current.token, None)
        current.end_session()
        current.cookies.append(Cookie(PATIENT_COOKIE, None))
        return current.redirect("/login", "logged_out")

    # Finding the patient: identity checks the traits before anything is shown

    @pages.get("/patients")
    def search(current: Current) -> Response:
        current.professional  # noqa: B018 (logged in, or off to the login page)
        return render(current, "pro_search.html", fields={}, errors={}, mismatch=False)

    @pages.post("/patients")
    def find(current: Current, form: Form) -> Response:
        current.check_form(form)
        token = current.professional
        fields = {
            "ins": form.get("ins", "").strip().upper().replace(" ", ""),
            "family_name": form.get("family_name", "").strip(),
            "birth_date": form.get("birth_date", "").strip(),
        }
        try:
            check = IdentityCheck.model_validate(fields)
        except ValidationError as error:
            errors = forms.field_errors(current.language, describe_items(error.errors()))
            return render(
                current, "pro_search.html", 422, fields=fields, errors=errors, mismatch=False
            )
        try:
            services().identity.check_patient_identity(token, check.model_dump(mode="json"))
        except NotFound:  # an unknown INS or traits that differ: the same answer, and nothing shown
            current.cookies.append(Cookie(PATIENT_COOKIE, None))
            return render(current, "pro_search.html", 404, fields=fields, errors={}, mismatch=True)
        # the traits as typed, not identity's answer: each page has identity check them again
        value = base64.urlsafe_b64encode(check.model_dump_json().encode()).decode()
        current.cookies.append(Cookie(PATIENT_COOKIE, value))
        return current.redirect("/patient")

    @pages.post("/patients/forget")
    def forget(current: Current, form: Form) -> Response:
        current.check_form(form)
        current.cookies.append(Cookie(PATIENT_COOKIE, None))
        return current.redirect("/patients")

    # The patient found: consent, dossier, summary, documents

    @pages.get("/patient")
    def patient_page(current: Current, checked: Checked) -> Response:
        return render(
            current, "pro_patient.html", patient=checked.patient, errors={}, until="", reason=""
        )

    @pages.post("/patient/consent")
    def consent(current: Current, form: Form, checked: Checked) -> Response:
        current.check_form(form)
        token, patient = checked.token, checked.patient
        until = form.get("until", "").strip()
        errors: dict[str, str] = {}
        if form.get("patient_agreed") != "on":
            errors["patient_agreed"] = current.t("pro.consent.required")
        try:
            authorisation = Authorisation.model_validate({"until": until or None})
        except ValidationError as error:
            errors.update(forms.field_errors(current.language, describe_items(error.errors())))
        if errors:
            return render(
                current,
                "pro_patient.html",
                422,
                patient=patient,
                errors=errors,
                until=until,
                reason="",
            )
        services().consent.record_consent(
            token, patient["ins"], authorisation.model_dump(mode="json")
        )
        return current.redirect("/patient", "consent")

    @pages.post("/patient/open")
    def open_dossier(current: Current, form: Form, checked: Checked) -> Response:
        """The professional opens the dossier with the patient's agreement (dossier decides who may)."""
        return agreed_to(
            current,
            form,
            checked,
            "open",
            lambda token, ins: services().dossier.open(
                token, {"ins": ins, "patient_consent": True}
            ),
            "/patient",
            "dossier_opened",
        )

    @pages.post("/patient/medecin-traitant")
    def propose_medecin_traitant(current: Current, form: Form, checked: Checked) -> Response:
        """A pending proposal: nothing is granted until the patient confirms it (consent decides who may)."""
        return agreed_to(
            current,
            form,
            checked,
            "mt",
            lambda token, ins: services().consent.declare_medecin_traitant(
                token, ins, {"patient_agreed": True}
            ),
            "/patient",
            "mt_proposed",
        )

    @pages.post("/patient/emergency")
    def emergency(current: Current, form: Form, checked: Checked) -> Response:
        """Emergency access ("bris de glace"): consent decides (oppositions, blocks, the profession) and
        tells the patient; its refusal is a page naming the rule."""
        current.check_form(form)
        token, patient = checked.token, checked.patient
        reason = form.get("reason", "").strip()
        try:
            request = BreakGlass.model_validate({"reason": reason})
        except ValidationError as error:
            errors = forms.field_errors(current.language, describe_items(error.errors()))
            return render(
                current,
                "pro_patient.html",
                422,
                patient=patient,
                errors=errors,
                until="",
                reason=reason,
            )
        services().consent.break_glass(token, patient["ins"], request.model_dump(mode="json"))
        return current.redirect("/dossier", "emergency_started")

    @pages.get("/dossier")
    def dossier(current: Current, checked: Checked) -> Response:
        token, patient = checked.token, checked.patient
        asked = current.request.query_params
        filters = {key: asked[key].strip() for key in FILTERS if asked.get(key, "").strip()}
        query: dict[str, Any] = {**filters, "limit": PAGE_SIZE}
        if "category" in filters:
            query["category"] = [filters["category"]]
        if "type_code" in filters:
            query["type_code"] = [filters["type_code"]]
        try:
            search = DocumentSearch.model_validate(query)
        except ValidationError as error:
            errors = forms.field_errors(current.language, describe_items(error.errors()))
            return render(
                current,
                "pro_dossier.html",
                422,
                patient=patient,
                filters=filters,
                errors=errors,
                groups=[],
                total=0,
                next_cursor=None,
                space=None,
                space_refused=None,
                categories=category_choices(current),
                access=None,
            )
        # The documents first: a professional refused the dossier gets the refusal page, with its rule.
        page = services().dossier.search(
            token, patient["ins"], search.model_dump(mode="json", exclude_none=True)
        )
        space: dict[str, Any] | None = None
        space_refused: str | None = None
        try:
            space = services().dossier.personal_space(token, patient["ins"])["content"]
        except AccessDenied as refused:
            space_refused = (
                next((d["rule"] for d in refused.details if "rule" in d), None) or "R-MATRIX"
            )
        documents = page["documents"]
        order = list(CATEGORIES)
        groups = [
            {
                "code": code,
                "label": category_label(current.language, code),
                "documents": [d for d in documents if d["category"] == code],
            }
            for code in sorted(
                {d["category"] for d in documents},
                key=lambda c: order.index(c) if c in order else len(order),
            )
        ]
        return render(
            current,
            "pro_dossier.html",
            patient=patient,
            filters=filters,
            errors={},
            groups=groups,
            total=page["total"],
            next_cursor=page.get("next_cursor"),
            space=space,
            space_refused=space_refused,
            categories=category_choices(current),
            access=page.get("access"),
        )

    @pages.get("/summary")
    def summary(current: Current, checked: Checked) -> Response:
        token, patient = checked.token, checked.patient
        care = services().dossier.care_summary(token, patient["ins"])
        latest = [
            {**item, "label": category_label(current.language, item["category"])}
            for item in care["latest_documents"]
        ]
        return render(current, "pro_summary.html", patient=patient, summary=care, latest=latest)

    @pages.get("/history")
    def history(current: Current, checked: Checked) -> Response:
        token, patient = checked.token, checked.patient
        return history_page(current, token, patient["ins"], "pro.history.title")

    # Deposit: a PDF or CDA file with its metadata from the national code lists, through the API's own call

    @pages.get("/deposit")
    def deposit_form(current: Current, checked: Checked) -> Response:
        if reads_only(
            current
        ):  # the services refuse the deposit itself; the form is not even offered
            raise AccessDenied.by_rule(
                "R-REGULATOR-EMERGENCY", "the SAMU regulator reads only, in an emergency"
            )
        return deposit_page(
            current, checked.patient, {"deposit_key": secrets.token_urlsafe(18)}, {}
        )

    @pages.post("/deposit")
    def deposit(current: Current, upload: Upload, checked: Checked) -> Response:
        fields, content = upload
        current.check_form(fields)
        token, patient = checked.token, checked.patient
        submission, errors = deposit_submission(current, fields, content)
        if submission is None:
            return deposit_page(current, patient, fields, errors, 422)
        added = services().dossier.add_document(
            token,
            patient["ins"],
            submission.model_dump(mode="json"),
            fields.get("deposit_key") or None,
        )
        return current.redirect(f"/documents/{added['document_id']}", "deposited")

    @pages.get("/documents/{document_id}")
    def document(current: Current, document_id: str, checked: Checked) -> Response:
        token, patient = checked.token, checked.patient
        read = services().dossier.read_document(token, patient["ins"], document_id)
        meta = read["document"]
        return render(
            current,
            "pro_document.html",
            patient=patient,
            document=meta,
            shown=shown_for(meta["format"], base64.b64decode(read["content"])),
            category=category_label(current.language, meta["category"]),
            access=read.get("access"),
        )

    @pages.get("/documents/{document_id}/content")
    def document_content(current: Current, document_id: str, checked: Checked) -> Response:
        token, patient = checked.token, checked.patient
        read = services().dossier.read_document(token, patient["ins"], document_id)
        part = served_part(
            read["document"]["format"],
            base64.b64decode(read["content"]),
            current.request.query_params.get("part"),
        )
        if part is None:
            raise NotFound("this document carries no document to show", [{"field": "part"}])
        media_type, content = part
        disposition = (
            "inline" if current.request.query_params.get("download") is None else "attachment"
        )
        return current.finish(
            Response(
                content,
                media_type=media_type,
                headers={
                    "Content-Disposition": f'{disposition}; filename="{document_id}{forms.extension(media_type)}"',
                    "Content-Security-Policy": CONTENT_POLICY,
                    "X-Frame-Options": "SAMEORIGIN",
                },
            )
        )

    return pages


async def uploaded(request: Request) -> tuple[dict[str, str], bytes | None]:
    """A submitted deposit form: its fields as strings, and the file's bytes (None when no file was chosen)."""
    form = (
        await request.form()
    )  # a file is spooled to disk; the gateway caps the body (app.body_limit)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    file = form.get("file")
    content = await file.read() if isinstance(file, StarletteUpload) else None
    return fields, content or None


Upload = Annotated[tuple[dict[str, str], bytes | None], Depends(uploaded)]


def format_of(content: bytes) -> str | None:
    """The deposit formats a professional's page takes, told by their first bytes: PDF, or a CDA R2 document."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<ClinicalDocument")) and b"ClinicalDocument" in head:
        return "text/xml"
    return None


def deposit_submission(
    current: Visit,
    fields: dict[str, str],
    content: bytes | None,
) -> tuple[DocumentSubmission | None, dict[str, str]]:
    """The API's submission from the form, or the errors to show by field (nothing is sent then)."""
    errors: dict[str, str] = {}
    media_type = format_of(content) if content else None
    if content is None:
        errors["file"] = current.t("pro.deposit.file_missing")
    elif len(content) > of_app(current.request.app).max_document_bytes:
        errors["file"] = current.t("pro.deposit.file_too_large")
    elif media_type is None:
        errors["file"] = current.t("pro.deposit.file_format")
    visibility = [
        code
        for name, code in (
            ("invisible_patient", "INVISIBLE_PATIENT"),
            ("invisible_representatives", "INVISIBLE_REPRESENTANTS_LEGAUX"),
        )
        if fields.get(name) == "on"
    ]
    try:
        submission = DocumentSubmission.model_validate(
            {
                "category": fields.get("category", ""),
                "type_code": fields.get("type_code", ""),
                "title": fields.get("title", ""),
                "care_date": fields.get("care_date") or None,
                "format": media_type or "application/pdf",
                "content": base64.b64encode(content or b"-").decode(),
                "confidentiality": fields.get("confidentiality") or "N",
                "visibility": visibility,
            }
        )
    except ValidationError as error:
        errors |= forms.field_errors(current.language, describe_items(error.errors()))
        return None, errors
    return (submission, errors) if not errors else (None, errors)


def deposit_page(
    current: Visit,
    patient: dict[str, str],
    fields: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        current,
        "pro_deposit.html",
        status,
        patient=patient,
        fields=fields,
        errors=errors,
        categories=[
            (code, label) for code, label in category_choices(current) if code not in ("60", "90")
        ],
        types=list(DOCUMENT_TYPES.items()),
    )


def category_choices(current: Visit) -> list[tuple[str, str]]:
    return [(code, category_label(current.language, code)) for code in CATEGORIES]


__all__ = ["PRO", "router"]
