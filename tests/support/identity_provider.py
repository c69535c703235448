"""An OpenID Connect provider for tests, over real HTTP on this machine: discovery, its signing
keys (JWKS), an authorize page where one picks who signs in, and the token endpoint (authorization
code flow). Its tokens carry the claims the gateway reads (tenant, role, scope), as a city's
identity provider is configured to put them in."""
import html
import json
import secrets
import threading
import time
import uuid
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

TOKEN_SECONDS = 600


class IdentityProvider:
    def __init__(self, people, client_id="civicgrid-console", client_secret="console-secret"):
        """`people`: {login: claims} of who may sign in (claims beside sub: tenant, role, scope, name...)."""
        self.people, self.client_id, self.client_secret = people, client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:8]
        self.codes = {}  # code -> (login, nonce)
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.jwks_url = f"{self.issuer}/jwks"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    def token(self, login, audience=None, **extra):
        """A signed access token for `login`, as the token endpoint gives it."""
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": login, "iat": now, "exp": now + TOKEN_SECONDS,
                  "aud": audience or self.client_id, **self.people[login], **extra}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    @Request.application
    def wsgi(self, request):
        routes = {"/.well-known/openid-configuration": self.discovery, "/jwks": self.keys,
                  "/authorize": self.authorize, "/token": self.exchange}
        handler = routes.get(request.path)
        return handler(request) if handler else Response("not found", status=404)

    def discovery(self, request):
        return json_response({
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"]})

    def keys(self, request):
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return json_response({"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

    def authorize(self, request):
        """The sign-in page: one button per person; choosing one returns to the client with a code."""
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("unknown client", status=400)
        if "login" in args:
            code = secrets.token_urlsafe(16)
            self.codes[code] = (args["login"], args.get("nonce"))
            query = urlencode({"code": code, "state": args.get("state", "")})
            return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})
        buttons = "".join(
            f'<a data-test="login-{html.escape(login)}" href="?{html.escape(urlencode({**args, "login": login}))}">'
            f'{html.escape(claims.get("name", login))}</a><br>' for login, claims in self.people.items())
        return Response(f"<html><body><h1>City sign-in</h1>{buttons}</body></html>", mimetype="text/html")

    def exchange(self, request):
        form, basic = request.form, request.authorization
        client = (basic.username, basic.password) if basic else (form.get("client_id"), form.get("client_secret"))
        if client != (self.client_id, self.client_secret):
            return json_response({"error": "invalid_client"}, 401)
        login, nonce = self.codes.pop(form.get("code"), (None, None))
        if login is None:
            return json_response({"error": "invalid_grant"}, 400)
        access = self.token(login)
        return json_response({"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
                              "id_token": self.token(login, nonce=nonce)})


def json_response(body, status=200):
    return Response(json.dumps(body), status=status, mimetype="application/json")
