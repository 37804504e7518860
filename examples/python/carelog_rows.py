#!/usr/bin/python3
"""Turns carelog's event topic into rows: one JSON object per event, on stdout.

An analytics consumer as a team would write it: Debian's python3-confluent-kafka (librdkafka)
reads `<prefix>events` with isolation.level=read_committed (only committed transactions), and
the FlatBuffers classes generated with `flatc --python` from events/schema/carelog_events.fbs
decode each record. Every row has the envelope's fields and the payload's fields, flattened; the
chain's hashes are hex; password hashes, token hashes and sealed secrets are left out. Nothing is
written back to Kafka: no offsets are committed, the reader joins no shared group.

    flatc --python -o /tmp/carelog-fb events/schema/carelog_events.fbs
    PYTHONPATH=/tmp/carelog-fb examples/python/carelog_rows.py --brokers 127.0.0.1:9092 \\
        --topic carelog.events > rows.jsonl

--check-types: instead of printing rows, read every topic matching --topic-regex to its end and
fail (exit 1) unless every event type of the schema was decoded at least once, except those named
in --allow-missing.
"""
import argparse
import datetime
import json
import re
import sys
import uuid

import flatbuffers  # noqa: F401  (the generated classes need it)
from confluent_kafka import Consumer, KafkaException, TopicPartition

from carelog.fb import Envelope, Payload

# Union member number -> name, from the generated Payload class.
PAYLOAD_NAMES = {v: k for k, v in vars(Payload.Payload).items() if not k.startswith("_") and isinstance(v, int)}
PAYLOAD_NAMES.pop(0, None)  # NONE


def payload_class(name):
    module = __import__("carelog.fb." + name, fromlist=[name])
    return getattr(module, name)


def table_fields(obj):
    """Every accessor of a generated table as a plain value (strings, numbers, lists, nested tables)."""
    out = {}
    for attr in dir(obj):
        if attr.startswith("_") or attr in ("Init", "GetRootAs") or attr.startswith("GetRootAs"):
            continue
        fn = getattr(obj, attr)
        if not callable(fn):
            continue
        if attr.endswith("Length") or attr.endswith("IsNone") or attr.endswith("AsNumpy"):
            continue
        if hasattr(obj, attr + "Length"):  # a vector
            n = getattr(obj, attr + "Length")()
            out[snake(attr)] = [plain(fn(i)) for i in range(n)]
            continue
        try:
            out[snake(attr)] = plain(fn())
        except TypeError:
            continue
    return out


# Fields an analytics row never carries: password hashes, token hashes, sealed secrets.
SECRET_FIELDS = re.compile(r"(^|_)(password_hash|token_hash|secret)$|_sealed$")


def scrub(fields):
    return {k: (scrub(v) if isinstance(v, dict) else v) for k, v in fields.items() if not SECRET_FIELDS.search(k)}


def plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "_tab"):
        return table_fields(v)
    return v


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def row_of(value, partition, offset):
    buf = bytearray(value)
    if not Envelope.Envelope.EnvelopeBufferHasIdentifier(buf, 0):
        raise ValueError("not a carelog envelope (file identifier is not CLEV)")
    env = Envelope.Envelope.GetRootAs(buf, 0)
    ptype = env.PayloadType()
    name = PAYLOAD_NAMES.get(ptype)
    if name is None:
        raise ValueError("payload type %d is not in this schema (a newer writer?)" % ptype)
    table = payload_class(name)()
    payload = env.Payload()
    if payload is None:
        raise ValueError("payload type %s without its payload" % name)
    table.Init(payload.Bytes, payload.Pos)
    return {
        "event_type": name,
        "event_id": plain(env.EventId()),
        "agency_id": plain(env.AgencyId()),
        "aggregate_type": plain(env.AggregateType()),
        "aggregate_id": plain(env.AggregateId()),
        "aggregate_version": env.AggregateVersion(),
        "sequence": env.Sequence(),
        "occurred_at_us": env.OccurredAt(),
        "actor_id": plain(env.ActorId()),
        "prev_hash": bytes(env.PrevHash(i) for i in range(env.PrevHashLength())).hex(),
        "hash": bytes(env.Hash(i) for i in range(env.HashLength())).hex(),
        "partition": partition,
        "offset": offset,
        "data": scrub(table_fields(table)),
    }


def read_to_end(brokers, topics, on_row, timeout_s=10.0, from_ms=None):
    """Reads every partition of `topics` from the beginning (or from its first record at or after
    from_ms, by Kafka's offsets-for-times) to its current end (read_committed)."""
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "carelog-rows-" + str(uuid.uuid4()),  # never committed, never shared
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    })
    try:
        parts = []
        md = c.list_topics(timeout=timeout_s)
        for t in topics:
            for p in md.topics[t].partitions:
                parts.append(TopicPartition(t, p, 0))
        if not parts:
            return 0
        if from_ms is not None:
            for tp in parts:
                tp.offset = from_ms
            parts = c.offsets_for_times(parts, timeout=timeout_s)
            for tp in parts:
                if tp.offset < 0:  # no record at or after the time: start at the end
                    tp.offset = c.get_watermark_offsets(tp, timeout=timeout_s)[1]
        c.assign(parts)
        remaining = {(tp.topic, tp.partition) for tp in parts}
        n = 0
        idle = 0
        while remaining:
            m = c.poll(1.0)
            if m is None:
                idle += 1
                if idle > timeout_s:
                    raise TimeoutError("no progress reading %s" % sorted(remaining))
                continue
            idle = 0
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    remaining.discard((m.topic(), m.partition()))
                    continue
                raise KafkaException(m.error())
            try:
                row = row_of(m.value(), m.partition(), m.offset())
            except Exception as e:  # a record carelog would quarantine: reported, skipped
                print("carelog_rows: skipped %s partition %d offset %d: %s" % (m.topic(), m.partition(), m.offset(), e),
                      file=sys.stderr)
                continue
            on_row(m.topic(), row)
            n += 1
        return n
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brokers", default="127.0.0.1:9092")
    ap.add_argument("--topic", action="append", default=[], help="an events topic (repeatable)")
    ap.add_argument("--topic-regex", help="every topic whose name matches (e.g. '^test\\..*\\.events$')")
    ap.add_argument("--from", dest="from_time",
                    help="start at this time (RFC 3339, e.g. 2026-01-31T00:00:00Z): Kafka's offsets for times")
    ap.add_argument("--check-types", action="store_true")
    ap.add_argument("--allow-missing", action="append", default=[], help="TYPE=reason (repeatable)")
    args = ap.parse_args()

    topics = list(args.topic)
    if args.topic_regex:
        probe = Consumer({"bootstrap.servers": args.brokers, "group.id": "carelog-rows-probe"})
        try:
            names = probe.list_topics(timeout=10).topics.keys()
        finally:
            probe.close()
        topics += sorted(t for t in names if re.search(args.topic_regex, t))
    if not topics:
        print("carelog_rows: no topic given or matched", file=sys.stderr)
        return 2

    from_ms = None
    if args.from_time:
        from_ms = int(datetime.datetime.fromisoformat(args.from_time.replace("Z", "+00:00")).timestamp() * 1000)

    if not args.check_types:
        n = read_to_end(args.brokers, topics, lambda _t, row: print(json.dumps(row, sort_keys=True)), from_ms=from_ms)
        print("carelog_rows: %d rows from %s" % (n, ", ".join(topics)), file=sys.stderr)
        return 0

    seen = {}
    n = read_to_end(args.brokers, topics, lambda _t, row: seen.setdefault(row["event_type"], row))
    allowed = dict(a.split("=", 1) for a in args.allow_missing)
    missing = [t for t in PAYLOAD_NAMES.values() if t not in seen and t not in allowed]
    print("carelog_rows: decoded %d records of %d topics: %d of %d event types"
          % (n, len(topics), len(seen), len(PAYLOAD_NAMES)), file=sys.stderr)
    for t, reason in sorted(allowed.items()):
        print("carelog_rows: %s not required: %s%s" % (t, reason, " (seen anyway)" if t in seen else ""),
              file=sys.stderr)
    if missing:
        print("carelog_rows: never decoded: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
