"""The OpenAPI 3 document of the verification API (kept beside the views it describes)."""

from __future__ import annotations

from dost.services.signing import CODE_ALPHABET
from dost.services.verification import Reason

_NULLABLE_STRING = {"type": "string", "nullable": True}
_NULLABLE_DATE = {"type": "string", "format": "date", "nullable": True}

_OPTIONAL_FIELDS = {
    "date": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$", "maxLength": 10,
             "description": "Status on this past day (Asia/Baku); omitted: now. A future day is a 400."},
    "surname": {"type": "string", "maxLength": 100,
                "description": "Surname as printed; answered only with match / no_match, never the stored value."},
    "ssn": {"type": "string", "pattern": r"^\d{13}$", "maxLength": 13,
            "description": "SSN as printed (13 digits); answered only with match / no_match."},
}

BY_URL = {
    "type": "object",
    "title": "By scanned URL",
    "required": ["url"],
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "minLength": 1, "maxLength": 2048,
                "description": "The URL read from the notice's QR code (https://<host>/v/<number>.<kid>.<signature>) "
                               "or only the part after /v/."},
        **_OPTIONAL_FIELDS,
    },
}

BY_CODE = {
    "type": "object",
    "title": "By number and verification code",
    "required": ["number", "code"],
    "additionalProperties": False,
    "properties": {
        "number": {"type": "string", "minLength": 1, "maxLength": 64, "description": "The notice number."},
        "code": {"type": "string", "minLength": 1, "maxLength": 32,
                 "description": f"The code printed under the QR ({len(CODE_ALPHABET)} characters alphabet "
                                f"{CODE_ALPHABET}; spaces and dashes are ignored)."},
        **_OPTIONAL_FIELDS,
    },
}

RESULT = {
    "type": "object",
    "required": ["reason", "authentic", "in_force", "title", "as_of"],
    "additionalProperties": False,
    "properties": {
        "reason": {"type": "string", "enum": [reason.value for reason in Reason],
                   "description": "valid: authentic and in force; superseded: authentic, replaced by a later notice; "
                                  "refused: authentic, the application was refused or withdrawn; not_yet_issued: "
                                  "authentic, issued after the asked date; not_found: no notice with this number "
                                  "and code; signature_invalid: the URL is not signed by DOST; key_revoked: signed "
                                  "with a key declared compromised."},
        "authentic": {"type": "boolean"},
        "in_force": {"type": "boolean"},
        "title": {"type": "string"},
        "as_of": _NULLABLE_DATE,
        "notice": {
            "type": "object",
            "description": "Minimal disclosure: no name, FİN or birth date.",
            "required": ["type", "type_label", "number", "issue_date", "insurer_name", "holder_initials",
                         "masked_fin", "application_status", "status_label", "key_id"],
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": ["change", "duplicate", ""]},
                "type_label": {"type": "string"},
                "number": {"type": "string"},
                "issue_date": {"type": "string", "format": "date"},
                "insurer_name": {"type": "string"},
                "holder_initials": {"type": "string"},
                "masked_fin": {"type": "string", "pattern": r"^.{2}\*{4}.$|^\*{7}$"},
                "application_status": {"type": "string", "enum": ["draft", "submitted", "verified", "ordered",
                                                                  "ready", "delivered", "refused"]},
                "status_label": {"type": "string"},
                "key_id": _NULLABLE_STRING,
            },
        },
        "superseded_on": {**_NULLABLE_DATE,
                          "description": "superseded only: the day a later notice took this one's place."},
        "replacement": {
            "type": "object",
            "description": "superseded only, and only when the replacement was applied for by the same insurer "
                           "as this notice: a replacement applied for elsewhere is never named (it would tell "
                           "where the person works now).",
            "required": ["number", "issue_date", "reason", "path"],
            "additionalProperties": False,
            "properties": {
                "number": {"type": "string"},
                "issue_date": _NULLABLE_DATE,
                "reason": _NULLABLE_STRING,
                "path": {**_NULLABLE_STRING, "description": "Public page of the replacement notice."},
            },
        },
        "matches": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "surname": {"type": "string", "enum": ["match", "no_match"]},
                "ssn": {"type": "string", "enum": ["match", "no_match"]},
            },
        },
    },
}

ERROR = {
    "type": "object",
    "required": ["error", "message", "field"],
    "additionalProperties": False,
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "field": _NULLABLE_STRING,
    },
}

JWKS = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kty", "crv", "kid", "x", "status", "valid_from"],
                "properties": {
                    "kty": {"type": "string", "enum": ["OKP"]},
                    "crv": {"type": "string", "enum": ["Ed25519"]},
                    "alg": {"type": "string", "enum": ["EdDSA"]},
                    "use": {"type": "string", "enum": ["sig"]},
                    "kid": {"type": "string"},
                    "x": {"type": "string"},
                    "status": {"type": "string", "enum": ["current", "retired", "revoked"]},
                    "valid_from": {"type": "string", "format": "date-time"},
                    "signs_until": {"type": "string", "format": "date-time", "nullable": True},
                    "revoked_at": {"type": "string", "format": "date-time", "nullable": True},
                },
            },
        },
        "payload": {"type": "object"},
    },
}


def _json(schema_ref: str, description: str, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}
    if headers:
        response["headers"] = headers
    return response


def document(host: str | None, rate_limit: str, max_body_bytes: int) -> dict:
    """The OpenAPI 3.0 document; `host` is the official host shown in the description (the configured one only),
    `rate_limit` the checks allowed per client address (DOST_VERIFY_RATE_LIMIT) and `max_body_bytes` the largest
    body accepted."""
    retry_after = {"Retry-After": {"description": "Seconds to wait.", "required": True,
                                   "schema": {"type": "string", "pattern": r"^\d+$"}}}
    limit_headers = {
        name: {"description": description, "schema": {"type": "string", "pattern": r"^\d+(\.\d+)?$"}}
        for name, description in (
            ("X-RateLimit-Limit", "Checks allowed per client address in the current window."),
            ("X-RateLimit-Remaining", "Checks left in the current window."),
            ("X-RateLimit-Reset", "When the window ends (Unix time, seconds)."),
        )
    }
    errors = {
        "400": _json("Error", "The body does not match the schema, is not plain JSON (nested too deeply, duplicate "
                              "keys, numbers out of range, invalid UTF-8), or the date is in the future."),
        "413": _json("Error", f"The body is larger than {max_body_bytes} bytes."),
        "415": _json("Error", "The body is not application/json."),
        "429": _json("Error", f"More than {rate_limit} checks from this client address (shared by /api/v1/verify, "
                              "/verify and /v/ pages); try again after Retry-After seconds.", retry_after),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DOST SSŞ — notice verification",
            "version": "1.0.0",
            "description": "Checks whether a DOST registration notice (bildiriş) is authentic and in force. "
                           + (f"The official host is {host}. " if host else "")
                           + "Public signing keys: /.well-known/dost-keys.json. "
                           + f"Limit: {rate_limit} checks per client address (DOST_VERIFY_RATE_LIMIT); every response "
                             "carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset, and a 429 "
                             "Retry-After.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/verify": {
                "post": {
                    "operationId": "verifyNotice",
                    "summary": "Check a notice by its scanned URL or by number and verification code.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"oneOf": [
                            {"$ref": "#/components/schemas/ByUrl"}, {"$ref": "#/components/schemas/ByCode"},
                        ]}}},
                    },
                    "responses": {"200": _json("Result", "The reason-coded result with minimal fields.",
                                               limit_headers), **errors},
                }
            },
            "/.well-known/dost-keys.json": {
                "get": {
                    "operationId": "signingKeys",
                    "summary": "Public Ed25519 keys (JWK set) with key ids and validity.",
                    "responses": {"200": _json("Jwks", "The key set.")},
                }
            },
        },
        "components": {"schemas": {"ByUrl": BY_URL, "ByCode": BY_CODE, "Result": RESULT, "Error": ERROR,
                                   "Jwks": JWKS}},
    }
