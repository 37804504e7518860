"""Schemathesis hooks of ops/schemathesis (SCHEMATHESIS_HOOKS).

Every request that carries a valid Idempotency-Key gets a key of its own. The generators repeat
values (the coverage phase sends one boundary value with many bodies), and carelogd rightly
answers 422 to a key it saw with another body: that would turn most generated commands into the
same refusal and test nothing behind it. An invalid key (empty, too long, not printable ASCII)
is sent as generated, to be refused.

Body fields that must name a record of the agency (a supervisor, locations, programs) get, where
the generated value is a well-formed id, the id of a record that exists: ST_IDS names a JSON file
{"METHOD /path": {"field": "id"}} (ops/schemathesis-setup.py writes it). The document says these
are UUIDs of the agency's records; which ones exist only the running server knows.
"""
import json
import os
import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[ -~]{1,200}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
IDS = {}
if os.environ.get("ST_IDS"):
    with open(os.environ["ST_IDS"]) as f:
        IDS = json.load(f)


def existing(value, id_):
    if isinstance(value, str) and UUID.fullmatch(value):
        return id_
    if isinstance(value, list):
        return [existing(v, id_) for v in value]
    return value


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and VALID_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = "st-" + uuid.uuid4().hex
    fields = IDS.get(f"{case.operation.method.upper()} {case.operation.path}")
    if fields and isinstance(case.body, dict):
        for name, id_ in fields.items():
            if name in case.body:
                case.body[name] = existing(case.body[name], id_)
