"""The patient's pages: thin handlers that call the services with the patient's own token, as the
API does, and render what comes back. Every rule and every refusal is the services' own."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from services.audit.labels import LABELS
from services.audit.schemas import HistoryQuery
from services.common.actors import Role
from services.common.codes import CATEGORIES, PROFESSIONS
from services.common.errors import NotFound, Unauthenticated
from services.common.validation import describe_items
from services.dossier.schemas import PersonalSpaceUpdate
from services.gateway.app_settings import of_app
from services.gateway.auth import client_address, log_out
from services.gateway.pages import forms
from services.gateway.pages.i18n import CATEGORIES_EN
from services.gateway.pages.session import PAGES, REFRESH_COOKIE, Visit, visit
from services.gateway.pages.viewers import served_part, shown_for
from services.gateway.rpc import services
from services.identity.schemas import LoginCodeCheck, LoginCodeRequest

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["PAGES"] = PAGES

# No script at all: the pages are plain HTML forms. Frames only from here (a PDF shown inline).
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
CONTENT_POLICY = (
    "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'; sandbox"
)
SHOWN_DOCUMENTS = 500  # the overview pages through the search up to this many
HISTORY_ACTIONS = (
    "document_read",
    "documents_listed",
    "first_access",
    "document_added",
    "emergency_access_started",
    "access_denied",
    "personal_space_read",
    "consent_recorded",
)
OUTCOMES = (
    "masked",
    "unmasked",
    "opened",
    "personal_space",
    "blocked",
    "unblocked",
    "emergency",
    "medecin_traitant",
    "notifications",
    "close",
    "reopen",
    "deletion",
    "logged_out",
    "consent",
    "deposited",
    "emergency_started",
    "dossier_opened",
    "mt_proposed",
)

KNOWN_CODES = {
    f"code.{code}"
    for code in (
        "invalid_input",
        "unauthenticated",
        "access_denied",
        "not_found",
        "conflict",
        "too_many_requests",
        "payload_too_large",
        "service_unavailable",
    )
}

Current = Annotated[Visit, Depends(visit)]


async def posted(request: Request) -> dict[str, str]:
    """A submitted form, as plain strings (files are not taken here)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


Form = Annotated[dict[str, str], Depends(posted)]


def render(current: Visit, template: str, http_status: int = 200, **context: Any) -> Response:
    done = current.request.query_params.get("done")
    response = templates.TemplateResponse(
        current.request,
        template,
        {
            "t": current.t,
            "lang": current.language,
            "csrf": current.csrf,
            "logged_in": current.actor is not None,
            "reads_only": current.actor is not None and Role.SAMU_REGULATOR in current.actor.roles,
            "PAGES": current.space.prefix,
            "base": current.space.base_template,
            "done": current.t(f"done.{done}") if done in OUTCOMES else None,
            **context,
        },
        status_code=http_status,
    )
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return current.finish(response)


def category_label(language: str, code: str) -> str:
    return CATEGORIES.get(code, code) if language == "fr" else CATEGORIES_EN.get(code, code)


def history_page(
    current: Visit, token: str, ins: str, title_key: str = "history.title"
) -> Response:
    """The dossier's history as audit answers it to this reader (the patient's side and the médecin traitant:
    all of it; a document's author: the traces of their documents), filtered and 50 a page."""
    asked = current.request.query_params
    filters = {
        key: asked[key].strip()
        for key in ("date_from", "date_to", "professional_id", "action", "cursor")
        if asked.get(key, "").strip()
    }
    index = 0 if current.language == "fr" else 1
    actions = [(action, LABELS[action][index]) for action in HISTORY_ACTIONS]
    try:
        query = HistoryQuery.model_validate({**filters, "language": current.language, "limit": 50})
    except ValidationError as error:
        errors = forms.field_errors(current.language, describe_items(error.errors()))
        return render(
            current,
            "history.html",
            422,
            traces=[],
            filters=filters,
            errors=errors,
            actions=actions,
            next_cursor=None,
            title_key=title_key,
        )
    found = services().audit.history(token, ins, query.model_dump(mode="json"))
    traces = [
        {
            **trace,
            "who": who(current, trace.get("actor")),
            "when": trace["occurred_at"][:16].replace("T", " "),
        }
        for trace in found["traces"]
    ]
    return render(
        current,
        "history.html",
        traces=traces,
        filters=filters,
        errors={},
        actions=actions,
        next_cursor=found.get("next_cursor"),
        title_key=title_key,
    )


def who(current: Visit, actor: dict[str, Any] | None) -> str:
    """A trace's actor as the patient reads it: ids and professions, as the trail keeps them."""
    if not actor:
        return current.t("history.system")
    if current.actor is not None and actor.get("id") == current.actor.id:
        return current.t("history.you")
    kind = actor.get("kind")
    if kind == "professional":
        return f"{PROFESSIONS.get(actor.get('profession') or '', '')} {actor.get('id', '')}".strip()
    return current.t("history.agent") if kind == "counter_agent" else current.t("history.system")


def dossier_status(token: str, ins: str) -> dict[str, Any] | None:
    """Where the patient's dossier stands, or None when they have none yet."""
    try:
        status: dict[str, Any] = services().dossier.status(token, ins)
    except NotFound:
        return None
    return status


def router() -> APIRouter:
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/")
    def home(current: Current) -> Response:
        return current.redirect("/dossier" if current.actor else "/login")

    # Login and logout

    @pages.get("/login")
    def login_form(current: Current) -> Response:
        return render(current, "login.html", ins="", channel="email", errors={})

    @pages.post("/login")
    def send_code(current: Current, form: Form) -> Response:
        current.check_form(form)
        fields = {
            "ins": form.get("ins", "").strip().upper(),
            "channel": form.get("channel", "email"),
        }
        try:
            request = LoginCodeRequest.model_validate(fields)
        except ValidationError as error:
            errors = forms.field_errors(current.language, describe_items(error.errors()))
            return render(current, "login.html", 422, errors=errors, **fields)
        sent = services().identity.request_login_code(
            request.model_dump(mode="json"), client_address(current.request)
        )
        return render(
            current, "code.html", ins=request.ins, minutes=sent["expires_in"] // 60, errors={}
        )

    @pages.post("/login/code")
    def check_code(current: Current, form: Form) -> Response:
        current.check_form(form)
        fields = {"ins": form.get("ins", "").strip().upper(), "code": form.get("code", "").strip()}
        try:
            check = LoginCodeCheck.model_validate(fields)
        except ValidationError as error:
            errors = forms.field_errors(current.language, describe_items(error.errors()))
            return render(current, "code.html", 422, ins=fields["ins"], minutes=5, errors=errors)
        try:
            tokens = services().identity.login_with_code(
                check.model_dump(mode="json"), client_address(current.request)
            )
        except Unauthenticated:  # wrong, expired or used up: say so on the same page
            return render(
                current,
                "code.html",
                401,
                ins=check.ins,
                minutes=5,
                errors={"code": current.t("login.code_refused")},
            )
        current.start_session(tokens)
        return current.redirect("/dossier")

    @pages.post("/logout")
    def logout(current: Current, form: Form) -> Response:
        current.check_form(form)
        refresh = current.request.cookies.get(REFRESH_COOKIE)
        if current.token and refresh:
            log_out(of_app(current.request.app), current.token, refresh)
        current.end_session()
        return current.redirect("/login", "logged_out")

    # Documents

    @pages.get("/dossier")
    def overview(current: Current) -> Response:
        token, ins = current.patient
        status = dossier_status(token, ins)
        if status is None or status["status"] != "open":
            return render(current, "overview.html", status=status, groups=[], total=0)
        documents: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 100}
        while len(documents) < SHOWN_DOCUMENTS:
            page = services().dossier.search(token, ins, query)
            documents += page["documents"]
            total = page["total"]
            if not page.get("next_cursor"):
                break
            query["cursor"] = page["next_cursor"]
        groups = [
            {
                "code": code,
                "label": category_label(current.language, code),
                "documents": [d for d in documents if d["category"] == code],
            }
            for code in sorted(
                {d["category"] for d in documents},
                key=lambda c: list(CATEGORIES).index(c) if c in CATEGORIES else len(CATEGORIES),
            )
        ]
        return render(
            current,
            "overview.html",
            status=status,
            groups=groups,
            total=total,
            shown=len(documents),
        )

    @pages.post("/dossier/open")
    def open_dossier(current: Current, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        services().dossier.open(token, {"ins": ins})
        return current.redirect("/dossier", "opened")

    @pages.get("/documents/{document_id}")
    def document(current: Current, document_id: str) -> Response:
        token, ins = current.patient
        read = services().dossier.read_document(token, ins, document_id)
        meta, content = read["document"], base64.b64decode(read["content"])
        shown = shown_for(meta["format"], content)
        return render(
            current,
            "document.html",
            document=meta,
            shown=shown,
            category=category_label(current.language, meta["category"]),
            masked="MASQUE_PS" in meta.get("visibility", []),
        )

    @pages.get("/documents/{document_id}/content")
    def document_content(current: Current, document_id: str) -> Response:
        token, ins = current.patient
        read = services().dossier.read_document(token, ins, document_id)
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
        response = Response(
            content,
            media_type=media_type,
            headers={
                "Content-Disposition": f'{disposition}; filename="{document_id}{forms.extension(media_type)}"',
                "Content-Security-Policy": CONTENT_POLICY,
                "X-Frame-Options": "SAMEORIGIN",
            },
        )
        return current.finish(response)

    @pages.post("/documents/{document_id}/visibility")
    def visibility(current: Current, document_id: str, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        masked = form.get("masked") == "true"
        services().dossier.set_visibility(token, ins, document_id, {"masked": masked})
        return current.redirect(f"/documents/{document_id}", "masked" if masked else "unmasked")

    # Personal space

    @pages.get("/personal-space")
    def personal_space(current: Current) -> Response:
        token, ins = current.patient
        view = services().dossier.personal_space(token, ins)
        return render(
            current,
            "personal_space.html",
            space=forms.rows_for(view["content"]),
            version=view["version"],
            errors={},
        )

    @pages.post("/personal-space")
    def save_personal_space(current: Current, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        content, version = forms.personal_space(form)
        try:
            update = PersonalSpaceUpdate.model_validate({"content": content, "version": version})
        except ValidationError as error:
            errors = forms.field_errors(current.language, describe_items(error.errors()))
            return render(
                current,
                "personal_space.html",
                422,
                space=forms.rows_for(content),
                version=version,
                errors=errors,
            )
        services().dossier.update_personal_space(token, ins, update.model_dump(mode="json"))
        return current.redirect("/personal-space", "personal_space")

    # History

    @pages.get("/history")
    def history(current: Current) -> Response:
        token, ins = current.patient
        return history_page(current, token, ins)

    # Settings: who may access, blocks, emergency, notifications

    @pages.get("/settings")
    def settings(current: Current) -> Response:
        token, ins = current.patient
        access = services().consent.settings(token, ins)
        preferences = services().notify.preferences(token, ins)
        return render(current, "settings.html", access=access, preferences=preferences)

    @pages.post("/settings/blocks")
    def block(current: Current, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        services().consent.block(
            token, ins, {"professional_id": form.get("professional_id", "").strip()}
        )
        return current.redirect("/settings", "blocked")

    @pages.post("/settings/blocks/remove")
    def unblock(current: Current, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        services().consent.unblock(token, ins, {"professional_id": form.get("professional_id", "")})
        return current.redirect("/settings", "unblocked")

    @pages.post("/settings/medecin-traitant")
    def confirm_medecin_traitant(current: Current, form: Form) -> Response:
        """The patient confirms a médecin's pending proposal to be their médecin traitant."""
        current.check_form(form)
        token, ins = current.patient
        services().consent.confirm_medecin_traitant(
            token, ins, {"professional_id": form.get("professional_id", "")}
        )
        return current.redirect("/settings", "medecin_traitant")

    @pages.post("/settings/emergency")
    def emergency(current: Current, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        choices = {
            "oppose_emergency": form.get("oppose_emergency") == "on",
            "oppose_regulator": form.get("oppose_regulator") == "on",
        }
        services().consent.set_emergency_oppositions(token, ins, choices)
        return current.redirect("/settings", "emergency")

    @pages.post("/settings/notifications")
    def notifications(current: Current, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        chosen = {
            "channels": form.get("channels"),
            "routine": form.get("routine"),
            "language": form.get("language") or None,
        }
        services().notify.set_preferences(token, ins, chosen)
        return current.redirect("/settings", "notifications")

    # Lifecycle: close, reopen, deletion, each confirmed first

    @pages.get("/lifecycle")
    def lifecycle(current: Current) -> Response:
        status = dossier_status(*current.patient)
        if status is None:
            return current.redirect("/dossier")
        return render(current, "lifecycle.html", status=status, confirm=None)

    @pages.get("/lifecycle/{change}")
    def confirm(current: Current, change: forms.Change) -> Response:
        token, ins = current.patient
        status = services().dossier.status(token, ins)
        return render(current, "lifecycle.html", status=status, confirm=change)

    @pages.post("/lifecycle/{change}")
    def change_lifecycle(current: Current, change: forms.Change, form: Form) -> Response:
        current.check_form(form)
        token, ins = current.patient
        call = {
            "close": services().dossier.close,
            "reopen": services().dossier.reopen,
            "deletion": services().dossier.request_deletion,
        }[change]
        call(token, ins)
        return current.redirect("/lifecycle", change)

    return pages
