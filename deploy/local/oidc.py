"""A local OpenID Connect provider for a developer machine, standing in for Pro Santé Connect: a real
protocol peer (discovery document, authorization endpoint with a login form, token endpoint, JWKS) for
the authorization-code flow with PKCE (S256 only).

    python -m deploy.local.oidc serve --port 8444 --directory var/oidc/directory.json --client-id dmp-local
    python -m deploy.local.oidc enrol --rpps 10000000009 --name "Dr Alex Durand"   # listed on the form

Its login form lists the professionals of its directory (as PSC knows the national directory) and
takes any other valid RPPS; whether the DMP knows them is the DMP's business (identity refuses an
unregistered one). Codes are single use and live 60 seconds; a code presented twice is refused.
Production trusts the real issuer instead (DMP_TRUSTED_ISSUERS); this one is for `make run` and tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.identifiers import luhn_valid

CODE_SECONDS = 60
ID_TOKEN_SECONDS = 300
PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 §4.2)."""
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode()
    )


def valid_rpps(value: str) -> bool:
    return len(value) == 11 and value.isdigit() and luhn_valid(value)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    rpps: str
    expires: float
    used: bool = False


class Directory:
    """The professionals the login form lists, kept in a JSON file: {rpps: name}."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def entries(self) -> dict[str, str]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            found = json.loads(self.path.read_text())
        except ValueError:
            return {}
        return (
            {str(k): str(v) for k, v in found.items() if valid_rpps(str(k))}
            if isinstance(found, dict)
            else {}
        )

    def enrol(self, rpps: str, name: str) -> None:
        if self.path is None:
            return
        entries = self.entries()
        entries[rpps] = name or entries.get(rpps, "")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(entries, indent=1, ensure_ascii=False))


class Provider:
    """The provider, served from a thread: `Provider(client_id).start()`; `.url` is its issuer."""

    def __init__(
        self,
        client_id: str = "dmp-local",
        directory: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.directory = Directory(directory)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        # A fresh key at each start gets a fresh kid: verifiers that cached the old one fetch the JWKS again.
        self.kid = hashlib.sha256(public["n"].encode()).hexdigest()[:16]
        self.jwks = {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}
        self.grants: dict[str, Grant] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.url = f"http://{host}:{self.server.server_address[1]}"

    def start(self) -> Provider:
        # close() (shutdown) waits for the serving loop to wake: at the default half-second poll, each close
        # cost half a second
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["sub", "SubjectNameID", "given_name", "family_name", "nonce"],
        }

    @property
    def trusted_issuer(self) -> dict[str, str]:
        """Its entry for DMP_TRUSTED_ISSUERS."""
        return {
            "issuer": self.url,
            "jwks_url": f"{self.url}/jwks",
            "audience": self.client_id,
            "rpps_claim": "SubjectNameID",
        }

    # The protocol, as pure steps of the handler below

    def authorization_problem(self, asked: dict[str, str]) -> str | None:
        """Why an authorization request cannot be served, or None (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
        if asked.get("client_id") != self.client_id:
            return "unknown client_id"
        redirect = urlparse(asked.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or not redirect.netloc or redirect.fragment:
            return "redirect_uri must be an absolute http(s) URI without fragment"
        if asked.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in asked.get("scope", "").split():
            return "scope must include openid"
        if (
            asked.get("code_challenge_method") != "S256"
            or len(asked.get("code_challenge", "")) != 43
        ):
            return "PKCE is required: code_challenge with code_challenge_method=S256"
        if not asked.get("state") or not asked.get("nonce"):
            return "state and nonce are required"
        return None

    def grant(self, asked: dict[str, str], rpps: str) -> str:
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.grants[code] = Grant(
                asked["client_id"],
                asked["redirect_uri"],
                asked["code_challenge"],
                asked["nonce"],
                rpps,
                time.monotonic() + CODE_SECONDS,
            )
        return code

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint's answer (RFC 6749 §4.1.3, §5.2)."""
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self.lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None or grant.expires < time.monotonic():
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "unknown or expired code",
                }
            if grant.used:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "this code was already used",
                }
            grant.used = True  # whatever follows, a code is presented once
        if (
            form.get("client_id") != grant.client_id
            or form.get("redirect_uri") != grant.redirect_uri
        ):
            return 400, {
                "error": "invalid_grant",
                "error_description": "client_id or redirect_uri differs",
            }
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
            s256(verifier), grant.challenge
        ):
            return 400, {
                "error": "invalid_grant",
                "error_description": "the code_verifier does not match",
            }
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": grant.client_id,
            "sub": f"psc-{grant.rpps}",
            "SubjectNameID": f"8{grant.rpps}",
            "nonce": grant.nonce,
            "iat": now,
            "auth_time": now,
            "exp": now + ID_TOKEN_SECONDS,
        }
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_SECONDS,
            "id_token": id_token,
        }

    def login_form(self, asked: dict[str, str], problem: str = "") -> str:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(asked.get(name, ""))}">'
            for name in PARAMETERS
        )
        listed = "".join(
            f'<li><button type="submit" name="rpps" value="{rpps}">{html.escape(name or "RPPS")} ({rpps})</button></li>'
            for rpps, name in sorted(self.directory.entries().items())
        )
        error = f'<p role="alert" class="error">{html.escape(problem)}</p>' if problem else ""
        return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion — fournisseur d'identité local</title>
<style>body{{font-family:sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}
button{{font-size:1rem;padding:.5rem 1rem;margin:.25rem 0;background:#000091;color:#fff;border:0}}
.error{{color:#a00}} input[type=text]{{font-size:1rem;padding:.4rem}} ul{{list-style:none;padding:0}}</style>
</head><body><main><h1>Fournisseur d'identité local (développement)</h1>
<p>Se connecter comme un professionnel de santé, à la place de Pro Santé Connect.</p>{error}
<form method="post" action="/authorize">{hidden}
<h2>Professionnels de l'annuaire</h2><ul>{listed or "<li>Aucun pour l'instant.</li>"}</ul>
<p><label for="rpps">Autre numéro RPPS (11 chiffres)</label><br>
<input type="text" id="rpps" name="other_rpps" inputmode="numeric" maxlength="11" autocomplete="off"></p>
<p><button type="submit">Se connecter</button></p></form></main></body></html>"""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self.json(200, provider.discovery)
                elif url.path == "/jwks":
                    self.json(200, provider.jwks)
                elif url.path == "/authorize":
                    asked = {k: v[0] for k, v in parse_qs(url.query).items()}
                    problem = provider.authorization_problem(asked)
                    if problem:  # never redirected: the redirect_uri itself may be the problem
                        self.page(
                            400,
                            f"<!doctype html><title>Erreur</title><h1>Requête refusée</h1>"
                            f"<p>{html.escape(problem)}</p>",
                        )
                    else:
                        self.page(200, provider.login_form(asked))
                else:
                    self.page(404, "<!doctype html><title>Introuvable</title><h1>Introuvable</h1>")

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
                form = {
                    k: v[0]
                    for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()
                }
                path = urlparse(self.path).path
                if path == "/token":
                    status, body = provider.exchange(form)
                    self.json(status, body)
                elif path == "/authorize":
                    asked = {name: form.get(name, "") for name in PARAMETERS}
                    problem = provider.authorization_problem(asked)
                    if problem:
                        self.page(
                            400,
                            f"<!doctype html><title>Erreur</title><p>{html.escape(problem)}</p>",
                        )
                        return
                    rpps = (form.get("rpps") or form.get("other_rpps") or "").strip()
                    if not valid_rpps(rpps):
                        self.page(
                            422,
                            provider.login_form(
                                asked,
                                "Numéro RPPS non valable : 11 chiffres, "
                                "le dernier est une clé de Luhn.",
                            ),
                        )
                        return
                    provider.directory.enrol(rpps, provider.directory.entries().get(rpps, ""))
                    query = urlencode(
                        {
                            "code": provider.grant(asked, rpps),
                            "state": asked["state"],
                            "iss": provider.url,
                        }
                    )
                    separator = "&" if "?" in asked["redirect_uri"] else "?"
                    self.send_response(303)
                    self.send_header("Location", f"{asked['redirect_uri']}{separator}{query}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.json(404, {"error": "not_found"})

            def json(self, status: int, body: dict[str, Any]) -> None:
                self.send(status, json.dumps(body).encode(), "application/json")

            def page(self, status: int, text: str) -> None:
                self.send(status, text.encode(), "text/html; charset=utf-8")

            def send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # request lines carry codes and states

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the provider")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--client-id", default="dmp-local")
    serve.add_argument("--directory", type=Path, default=Path("var/oidc/directory.json"))
    enrol = commands.add_parser("enrol", help="list a professional on the login form")
    enrol.add_argument("--rpps", required=True)
    enrol.add_argument("--name", default="")
    enrol.add_argument("--directory", type=Path, default=Path("var/oidc/directory.json"))
    args = parser.parse_args()
    if args.command == "enrol":
        if not valid_rpps(args.rpps):
            raise SystemExit("an RPPS is 11 digits, the last a Luhn check digit")
        Directory(args.directory).enrol(args.rpps, args.name)
        return
    provider = Provider(args.client_id, args.directory, port=args.port)
    print(f"OpenID Connect provider at {provider.url}", flush=True)
    try:
        provider.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        provider.server.server_close()


if __name__ == "__main__":
    main()
