"""What the xAPI Statements resource declares in evidence's OpenAPI document: the statement
body (JSON Schema of the xAPI 1.0.3 properties we check), the version header and the id
parameters, and the answers. The routes read the raw request themselves (``xapi_http``), as the
spec's loose bodies need; these declarations only describe them, so that a reader, and a fuzzer,
know what to send. The checks themselves stay in :mod:`arc_evidence.xapi`."""

from __future__ import annotations

from typing import Any

IRI: dict[str, Any] = {"type": "string", "format": "iri", "minLength": 1}
LANGUAGE_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
UUID: dict[str, Any] = {"type": "string", "format": "uuid"}
ACCOUNT: dict[str, Any] = {
    "type": "object",
    "required": ["homePage", "name"],
    "properties": {"homePage": IRI, "name": {"type": "string", "minLength": 1}},
}
AGENT: dict[str, Any] = {
    "type": "object",
    "description": "An Agent or Group with exactly one of mbox, mbox_sha1sum, openid, account",
    "properties": {
        "objectType": {"enum": ["Agent", "Group"]},
        "name": {"type": "string"},
        "mbox": {"type": "string", "pattern": "^mailto:"},
        "mbox_sha1sum": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
        "openid": IRI,
        "account": ACCOUNT,
    },
    "anyOf": [{"required": [name]} for name in ("mbox", "mbox_sha1sum", "openid", "account")],
}
SCORE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scaled": {"type": "number", "minimum": -1, "maximum": 1},
        "raw": {"type": "number"},
        "min": {"type": "number"},
        "max": {"type": "number"},
    },
}
STATEMENT: dict[str, Any] = {
    "type": "object",
    "description": "An xAPI 1.0.3 statement; one about an aligned outcome becomes an attempt",
    "required": ["actor", "verb", "object"],
    "properties": {
        "id": UUID,
        "actor": AGENT,
        "verb": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": IRI, "display": LANGUAGE_MAP},
        },
        "object": {
            "description": "An Activity (an IRI id), or a StatementRef (a UUID: what is voided)",
            "anyOf": [
                {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "objectType": {"const": "Activity"},
                        "id": IRI,
                        "definition": {"type": "object"},
                    },
                },
                {
                    "type": "object",
                    "required": ["objectType", "id"],
                    "properties": {"objectType": {"const": "StatementRef"}, "id": UUID},
                },
            ],
        },
        "result": {
            "type": "object",
            "properties": {
                "score": SCORE,
                "success": {"type": "boolean"},
                "completion": {"type": "boolean"},
                "response": {"type": "string"},
                "extensions": {"type": "object"},
            },
        },
        "context": {
            "type": "object",
            "properties": {
                "registration": UUID,
                "instructor": AGENT,
                "contextActivities": {"type": "object"},
                "extensions": {
                    "type": "object",
                    "propertyNames": {"format": "iri"},
                    "description": "Keyed by IRIs",
                },
            },
        },
        "timestamp": {"type": "string", "format": "date-time"},
        "version": {"type": "string", "pattern": "^1\\.0(\\.[0-9]+)?$"},
        "stored": {"type": "string", "description": "Set by the LRS (what is sent is ignored)"},
        "authority": {"type": "object", "description": "Set by the LRS (ignored)"},
        "attachments": {"type": "array", "maxItems": 0, "description": "Not supported"},
    },
    "additionalProperties": False,
}
EXAMPLE: dict[str, Any] = {
    "actor": {"account": {"homePage": "https://sis.example", "name": "stu-1"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
    "object": {"id": "https://arc.example/outcomes/sci.1"},
    "result": {"score": {"raw": 3}},
}
VERSION_PARAMETER: dict[str, Any] = {
    "name": "X-Experience-API-Version",
    "in": "header",
    "required": True,
    "description": "The xAPI version spoken: 1.0.x",
    "schema": {"type": "string", "pattern": "^1\\.0(\\.[0-9]+)?$", "example": "1.0.3"},
}


def _query(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": UUID,
    }


def _json_body(schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


_STATEMENT_IDS = {"type": "array", "items": {"type": "string", "format": "uuid"}}

#: ``openapi_extra`` of each route: parameters and body (the answers are in ``RESPONSES``).
PUT_STATEMENT: dict[str, Any] = {
    "parameters": [VERSION_PARAMETER, _query("statementId", "The statement's id", True)],
    "requestBody": _json_body(STATEMENT, EXAMPLE),
}
POST_STATEMENTS: dict[str, Any] = {
    "parameters": [VERSION_PARAMETER],
    "requestBody": _json_body(
        {"anyOf": [STATEMENT, {"type": "array", "items": STATEMENT, "minItems": 1}]}, [EXAMPLE]
    ),
}
GET_STATEMENT: dict[str, Any] = {
    "parameters": [
        VERSION_PARAMETER,
        _query("statementId", "A statement (not voided); give this or voidedStatementId"),
        _query("voidedStatementId", "A voided statement"),
    ],
}
#: The answers' bodies (error bodies are every service's, ``arc_platform.http_errors``).
RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "put": {204: {"description": "Stored (or already stored, identical)"}},
    "post": {
        200: {
            "description": "The statements' ids, in order",
            "content": {"application/json": {"schema": _STATEMENT_IDS}},
        }
    },
    "get": {
        200: {
            "description": "The statement as stored (with stored, authority and version)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
}
