"""Just enough of the Kafka wire protocol, by hand, to send well-formed and
malformed requests over a raw socket."""
import socket
import struct
import time

from kafka.record.util import calc_crc32c


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def nbytes(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def varint(v):
    v = (v << 1) ^ (v >> 63)  # zigzag
    out = b""
    while True:
        bits = v & 0x7F
        v >>= 7
        if v:
            out += bytes([bits | 0x80])
        else:
            return out + bytes([bits])


def header_v1(api_key, version, correlation_id, client_id="runnel-it"):
    return i16(api_key) + i16(version) + i32(correlation_id) + string(client_id)


def frame(body):
    return i32(len(body)) + body


def recv_exact(sock, n):
    """Exactly n bytes from socket sock; ConnectionError("closed") if it closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def record(offset_delta, key, value, ts_delta=0, headers=()):
    body = i8(0) + varint(ts_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        body += varint(len(hk)) + hk + varint(len(hv)) + hv
    return varint(len(body)) + body


def record_batch(values, base_ts=None, corrupt_crc=False):
    """An uncompressed magic-2 batch of (key, value) pairs."""
    base_ts = int(time.time() * 1000) if base_ts is None else base_ts
    recs = b"".join(record(i, k, v) for i, (k, v) in enumerate(values))
    after_crc = (i16(0) + i32(len(values) - 1) + i64(base_ts) + i64(base_ts) + i64(-1) + i16(-1) + i32(-1)
                 + i32(len(values)) + recs)
    crc = calc_crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    after_len = i32(0) + i8(2) + struct.pack(">I", crc) + after_crc  # partition leader epoch, magic, crc
    return i64(0) + i32(len(after_len)) + after_len


def batch_v2(records_blob, count, base_ts, max_ts, attributes=0, last_offset_delta=None, producer_id=-1,
             producer_epoch=-1, base_sequence=-1):
    """A magic-2 batch around an already encoded (and, if `attributes` says so,
    compressed) records blob, every header field chosen by the caller; the CRC is
    right for whatever it holds."""
    last = count - 1 if last_offset_delta is None else last_offset_delta
    after_crc = (i16(attributes) + i32(last) + i64(base_ts) + i64(max_ts) + i64(producer_id) + i16(producer_epoch)
                 + i32(base_sequence) + i32(count) + records_blob)
    after_len = i32(0) + i8(2) + struct.pack(">I", calc_crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(after_len)) + after_len


def batch_header(batch):
    """The header fields of one magic-2 batch, and whether its CRC is right."""
    base, length, epoch, magic, crc, attrs, lod, base_ts, max_ts, pid, pepoch, seq, count = struct.unpack_from(
        ">qiibIhiqqqhii", batch, 0)
    return dict(base_offset=base, length=length, magic=magic, attributes=attrs, last_offset_delta=lod,
                base_timestamp=base_ts, max_timestamp=max_ts, producer_id=pid, record_count=count,
                crc_ok=crc == calc_crc32c(batch[21:12 + length]))


def produce(correlation_id, topic, partition, batch, version=8, acks=-1, timeout_ms=5000, client_id="runnel-it"):
    """Produce v3-v8 (not flexible): same request layout as v3."""
    body = header_v1(0, version, correlation_id, client_id)
    body += string(None) + i16(acks) + i32(timeout_ms)
    body += i32(1) + string(topic) + i32(1) + i32(partition) + nbytes(batch)
    return frame(body)


def parse_produce_v8(payload):
    """-> (correlation_id, [dict(topic, partition, error, base_offset, record_errors, error_message)])"""
    r = Reader(payload)
    corr = r.i32()
    out = []
    for _ in range(r.i32()):
        t = r.string()
        for _ in range(r.i32()):
            p, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log_append_time
            r.i64()  # log_start_offset
            record_errors = [(r.i32(), r.string()) for _ in range(max(r.i32(), 0))]
            out.append(dict(topic=t, partition=p, error=err, base_offset=base, record_errors=record_errors,
                            error_message=r.string()))
    return corr, out


def produce_v3(correlation_id, topic, partition, batch, acks=-1, timeout_ms=5000):
    return produce(correlation_id, topic, partition, batch, version=3, acks=acks, timeout_ms=timeout_ms)


def parse_produce_v3(payload):
    """-> (correlation_id, [(topic, partition, error_code, base_offset)])"""
    r = Reader(payload)
    corr = r.i32()
    out = []
    for _ in range(r.i32()):
        t = r.string()
        for _ in range(r.i32()):
            p, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log_append_time
            out.append((t, p, err, base))
    return corr, out


def api_versions_v0(correlation_id, version=0):
    return frame(header_v1(18, version, correlation_id))


def parse_api_versions_v0(payload):
    """-> (correlation_id, error_code, {api_key: (min, max)})"""
    r = Reader(payload)
    corr, err = r.i32(), r.i16()
    apis = {}
    n = r.i32()
    for _ in range(max(n, 0)):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        apis[k] = (lo, hi)
    return corr, err, apis


def metadata_v1(correlation_id, topics=None):
    body = header_v1(3, 1, correlation_id)
    if topics is None:
        body += i32(-1)
    else:
        body += i32(len(topics)) + b"".join(string(t) for t in topics)
    return frame(body)


def parse_metadata_v1(payload):
    """-> (brokers {node_id: (host, port, rack)}, controller_id,
    {topic: (error_code, {partition: (error_code, leader, replicas, isr)})})."""
    r = Reader(payload)
    r.i32()  # correlation id
    brokers = {}
    for _ in range(r.i32()):
        node = r.i32()
        host = r.string()
        port = r.i32()
        rack = r.string()
        brokers[node] = (host, port, rack)
    controller = r.i32()
    topics = {}
    for _ in range(r.i32()):
        err = r.i16()
        name = r.string()
        r.take(1)  # is_internal
        partitions = {}
        for _ in range(r.i32()):
            perr, index, leader = r.i16(), r.i32(), r.i32()
            replicas = [r.i32() for _ in range(r.i32())]
            isr = [r.i32() for _ in range(r.i32())]
            partitions[index] = (perr, leader, replicas, isr)
        topics[name] = (err, partitions)
    return brokers, controller, topics


def metadata(port, topics=None, timeout=5.0):
    """One Metadata v1 round trip: (brokers, controller_id, topics) as parse_metadata_v1."""
    c = Conn(port, timeout)
    try:
        c.send(metadata_v1(1, topics))
        return parse_metadata_v1(c.recv_frame())
    finally:
        c.close()


def delete_records(port, topic, partition, offset, timeout=5.0):
    """One DeleteRecords v0 round trip for one partition: (error_code, low_watermark)."""
    c = Conn(port, timeout)
    try:
        body = (header_v1(21, 0, 7) + i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) +
                i32(int(timeout * 1000)))
        c.send(frame(body))
        r = Reader(c.recv_frame())
        r.i32()  # correlation id
        r.i32()  # throttle_time_ms
        r.i32()  # one topic
        r.string()
        r.i32()  # one partition
        r.i32()
        low_watermark = r.i64()
        return r.i16(), low_watermark
    finally:
        c.close()


def join_group_v1(correlation_id, group, member_id="", session_timeout_ms=60000, rebalance_timeout_ms=60000,
                  protocol=("range", b"")):
    return frame(header_v1(11, 1, correlation_id) + string(group) + i32(session_timeout_ms) +
                 i32(rebalance_timeout_ms) + string(member_id) + string("consumer") + i32(1) +
                 string(protocol[0]) + nbytes(protocol[1]))


def parse_join_group_v1(payload):
    """(error_code, generation_id, member_id) of a JoinGroup v1 response frame."""
    r = Reader(payload)
    r.i32()  # correlation id
    error = r.i16()
    generation = r.i32()
    r.string()  # protocol name
    r.string()  # leader
    return error, generation, r.string()


def one_partition(payload):
    """A Reader past the header of a response about one topic and one partition
    (OffsetCommit v2, OffsetFetch v1), at that partition's fields."""
    r = Reader(payload)
    r.i32()  # correlation id
    r.i32()  # topics
    r.string()
    r.i32()  # partitions
    r.i32()
    return r


def offset_commit_v2(correlation_id, group, topic, partition, offset):
    """OffsetCommit v2 as a simple consumer (generation -1, no member id)."""
    body = (header_v1(8, 2, correlation_id) + string(group) + i32(-1) + string("") + i64(-1) +
            i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + string(""))
    return frame(body)


def parse_offset_commit_v2(payload):
    """The error code of the one partition of an OffsetCommit v2 response frame."""
    r = one_partition(payload)
    return r.i16()


# The errors a client retries by finding the coordinator again: loading, not
# available, not coordinator.
COORDINATOR_ERRORS = (14, 15, 16)


def offsets_partition_for(group, partitions):
    """The __consumer_offsets partition of a group, as Kafka computes it:
    abs(group.hashCode()) % partitions, with Java's String.hashCode."""
    h = 0
    for ch in group.encode():
        h = (31 * h + ch) & 0xffffffff
    return (h & 0x7fffffff) % partitions


def offset_fetch_v1(correlation_id, group, topic, partition):
    body = header_v1(9, 1, correlation_id) + string(group) + i32(1) + string(topic) + i32(1) + i32(partition)
    return frame(body)


def find_coordinator(port, key, key_type=0, timeout=5.0):
    """One FindCoordinator v1 round trip (key_type 0: a group, 1: a transactional id):
    (error_code, node_id)."""
    c = Conn(port, timeout)
    try:
        c.send(frame(header_v1(10, 1, 1) + string(key) + i8(key_type)))
        r = Reader(c.recv_frame())
        r.i32()  # correlation id
        r.i32()  # throttle_time_ms
        error = r.i16()
        r.string()  # error_message
        return error, r.i32()
    finally:
        c.close()


def parse_offset_fetch_v1(payload):
    """(committed offset, error code) of the one partition of an OffsetFetch v1 response frame."""
    r = one_partition(payload)
    offset = r.i64()
    r.string()  # metadata
    return offset, r.i16()


# ---- flexible versions (KIP-482): compact strings and arrays, tagged fields

def uvarint(v):
    out = b""
    while True:
        bits = v & 0x7F
        v >>= 7
        if v:
            out += bytes([bits | 0x80])
        else:
            return out + bytes([bits])


def cstring(s):
    """A compact (nullable) string."""
    if s is None:
        return uvarint(0)
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def cbytes(b):
    return uvarint(0) if b is None else uvarint(len(b) + 1) + b


def carray(items):
    """A compact array of already encoded items (None: null)."""
    return uvarint(0) if items is None else uvarint(len(items) + 1) + b"".join(items)


NO_TAGS = b"\x00"


def header_v2(api_key, version, correlation_id, client_id="runnel-it"):
    """The request header of flexible versions: v1's plus an empty tag section."""
    return header_v1(api_key, version, correlation_id, client_id) + NO_TAGS


def flexible_response(payload):
    """(correlation_id, Reader after the v1 response header) of a flexible response frame."""
    r = Reader(payload)
    corr = r.i32()
    r.tags()
    return corr, r


def uuid_hex(u):
    return u.hex()


def produce_flexible(correlation_id, topic, partition, batch, version=11, acks=-1, timeout_ms=5000,
                     transactional_id=None):
    """Produce v9+ (flexible; v10, v11 and v12 read the same)."""
    body = header_v2(0, version, correlation_id) + cstring(transactional_id) + i16(acks) + i32(timeout_ms)
    body += carray([cstring(topic) + carray([i32(partition) + cbytes(batch) + NO_TAGS]) + NO_TAGS]) + NO_TAGS
    return frame(body)


def _leader_and_epoch(r):
    leader, epoch = r.i32(), r.i32()
    r.tags()
    return leader, epoch


def _node_endpoints(r):
    out = {}
    for _ in range(r.carray_len()):
        node, host, port, rack = r.i32(), r.cstring(), r.i32(), r.cstring()
        r.tags()
        out[node] = (host, port, rack)
    return out


def parse_produce_flexible(payload):
    """-> (correlation_id, [dict(topic, partition, error, base_offset, error_message, current_leader)],
    node_endpoints {node: (host, port, rack)}). current_leader is (leader_id, epoch) or None when absent."""
    corr, r = flexible_response(payload)
    out = []
    for _ in range(r.carray_len()):
        t = r.cstring()
        for _ in range(r.carray_len()):
            p, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log_append_time
            r.i64()  # log_start_offset
            for _ in range(r.carray_len()):  # record_errors
                r.i32(), r.cstring(), r.tags()
            message = r.cstring()
            tags = r.tags()
            leader = _leader_and_epoch(Reader(tags[0])) if 0 in tags else None
            out.append(dict(topic=t, partition=p, error=err, base_offset=base, error_message=message,
                            current_leader=leader))
        r.tags()
    r.i32()  # throttle
    tags = r.tags()
    return corr, out, _node_endpoints(Reader(tags[0])) if 0 in tags else {}


def fetch_by_id(correlation_id, version, topic_id, partition, offset, max_wait_ms=100, min_bytes=1,
                max_bytes=1 << 20, isolation_level=1, current_leader_epoch=-1):
    """Fetch v13+ (topics by id) for one partition, as a consumer."""
    body = header_v2(1, version, correlation_id)
    if version <= 14:
        body += i32(-1)  # replica_id; v15+ has ReplicaState, a tagged field
    body += i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(isolation_level) + i32(0) + i32(-1)
    part = i32(partition) + i32(current_leader_epoch) + i64(offset) + i32(-1) + i64(-1) + i32(max_bytes) + NO_TAGS
    body += carray([topic_id + carray([part]) + NO_TAGS])
    body += carray([]) + cstring("") + NO_TAGS  # no forgotten topics, rack ""
    return frame(body)


def fetch_session_v12(correlation_id, session_id, session_epoch, topics, forgotten=(), replica_id=5,
                      max_wait_ms=100, min_bytes=1, max_bytes=1 << 20):
    """Fetch v12 in a fetch session (KIP-227): `topics` [(topic, [(partition, offset)])] named (added or
    updated), `forgotten` [(topic, [partition])] left."""
    body = header_v2(1, 12, correlation_id)
    body += i32(replica_id) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(0)
    body += i32(session_id) + i32(session_epoch)
    body += carray([cstring(t) + carray([i32(p) + i32(-1) + i64(o) + i32(-1) + i64(-1) + i32(max_bytes) + NO_TAGS
                                         for p, o in parts]) + NO_TAGS for t, parts in topics])
    body += carray([cstring(t) + carray([i32(p) for p in parts]) + NO_TAGS for t, parts in forgotten])
    body += cstring("") + NO_TAGS
    return frame(body)


def parse_fetch_flexible(payload, version, session=None):
    """-> (correlation_id, error, [dict(topic (a name before v13, an id's hex from v13), partition, error, hw,
    lso, log_start, records, current_leader)], node_endpoints); `session` (a dict), if given, gets the
    response's session id as "id"."""
    corr, r = flexible_response(payload)
    r.i32()  # throttle
    error = r.i16()
    session_id = r.i32()
    if session is not None:
        session["id"] = session_id
    out = []
    for _ in range(r.carray_len()):
        t = r.uuid().hex() if version >= 13 else r.cstring()
        for _ in range(r.carray_len()):
            p, err, hw, lso, start = r.i32(), r.i16(), r.i64(), r.i64(), r.i64()
            n = r.carray_len(nullable=True)
            for _ in range(max(n, 0)):
                r.i64(), r.i64(), r.tags()
            r.i32()  # preferred read replica
            n = r.uvarint() - 1
            recs = None if n < 0 else r.take(n)
            tags = r.tags()
            leader = _leader_and_epoch(Reader(tags[1])) if 1 in tags else None
            out.append(dict(topic=t, partition=p, error=err, hw=hw, lso=lso, log_start=start, records=recs,
                            current_leader=leader))
        r.tags()
    tags = r.tags()
    return corr, error, out, _node_endpoints(Reader(tags[0])) if 0 in tags else {}


def list_offsets_flexible(correlation_id, version, topic, partition, timestamp, timeout_ms=30000):
    """ListOffsets v6+ for one partition (v10 adds timeout_ms)."""
    body = header_v2(2, version, correlation_id) + i32(-1) + i8(0)
    body += carray([cstring(topic) + carray([i32(partition) + i32(-1) + i64(timestamp) + NO_TAGS]) + NO_TAGS])
    if version >= 10:
        body += i32(timeout_ms)
    return frame(body + NO_TAGS)


def parse_list_offsets_flexible(payload):
    """-> (error, timestamp, offset, leader_epoch) of the one partition."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    r.carray_len()
    r.cstring()
    r.carray_len()
    r.i32()  # partition
    return r.i16(), r.i64(), r.i64(), r.i32()


def metadata_flexible(correlation_id, version, topics=None, topic_ids=(), allow_auto_topic_creation=False,
                      include_cluster_ops=False, include_topic_ops=False):
    """Metadata v9+: topics by name (None with no ids: every topic) and, v10+, by id; the
    include_*_authorized_operations flags."""
    items = None
    if topics is not None or topic_ids:
        items = [(bytes(16) if version >= 10 else b"") + cstring(t) + NO_TAGS for t in (topics or [])]
        items += [tid + cstring(None) + NO_TAGS for tid in topic_ids]
    body = header_v2(3, version, correlation_id) + carray(items)
    body += i8(1 if allow_auto_topic_creation else 0)
    if version <= 10:
        body += i8(1 if include_cluster_ops else 0)  # include_cluster_authorized_operations
    body += i8(1 if include_topic_ops else 0) + NO_TAGS  # include_topic_authorized_operations
    return frame(body)


def parse_metadata_flexible(payload, version):
    """-> dict(brokers {node: (host, port, rack)}, controller, error (v13+, else None), cluster_ops (v8-10),
    topics {name: dict(error, id (bytes), internal, partitions {index: (error, leader, epoch, replicas, isr)},
    ops)}) (a topic without a name, answered by id, is keyed by its id's hex; ops: authorized operations)."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    brokers = {}
    for _ in range(r.carray_len()):
        node, host, port, rack = r.i32(), r.cstring(), r.i32(), r.cstring()
        r.tags()
        brokers[node] = (host, port, rack)
    r.cstring()  # cluster id
    controller = r.i32()
    topics = {}
    for _ in range(r.carray_len()):
        err, name = r.i16(), r.cstring()
        tid = r.uuid() if version >= 10 else None  # v10+
        internal = r.take(1) != b"\x00"
        partitions = {}
        for _ in range(r.carray_len()):
            perr, index, leader, epoch = r.i16(), r.i32(), r.i32(), r.i32()
            replicas = [r.i32() for _ in range(r.carray_len())]
            isr = [r.i32() for _ in range(r.carray_len())]
            [r.i32() for _ in range(r.carray_len())]  # offline
            r.tags()
            partitions[index] = (perr, leader, epoch, replicas, isr)
        ops = r.i32()  # topic authorized operations
        r.tags()
        topics[name if name is not None else tid.hex()] = dict(error=err, id=tid, internal=internal,
                                                               partitions=partitions, ops=ops)
    cluster_ops = r.i32() if version <= 10 else None
    error = r.i16() if version >= 13 else None
    r.tags()
    return dict(brokers=brokers, controller=controller, error=error, topics=topics, cluster_ops=cluster_ops)


def describe_topic_partitions(correlation_id, topics, limit=2000, cursor=None):
    """DescribeTopicPartitions v0; cursor: (topic, partition) or None."""
    body = header_v2(75, 0, correlation_id) + carray([cstring(t) + NO_TAGS for t in topics]) + i32(limit)
    body += i8(-1) if cursor is None else i8(1) + cstring(cursor[0]) + i32(cursor[1]) + NO_TAGS
    return frame(body + NO_TAGS)


def parse_describe_topic_partitions(payload):
    """-> ([dict(name, error, id, internal, partitions [dict(index, error, leader, epoch, replicas, isr, elr,
    last_known_elr, offline)])], next_cursor (topic, partition) or None)."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    topics = []
    for _ in range(r.carray_len()):
        err, name, tid, internal = r.i16(), r.cstring(), r.uuid(), r.take(1) != b"\x00"
        parts = []
        for _ in range(r.carray_len()):
            perr, index, leader, epoch = r.i16(), r.i32(), r.i32(), r.i32()
            lists = []
            for _ in range(5):  # replicas, isr, elr, last known elr, offline
                n = r.carray_len(nullable=True)
                lists.append(None if n < 0 else [r.i32() for _ in range(n)])
            r.tags()
            parts.append(dict(index=index, error=perr, leader=leader, epoch=epoch, replicas=lists[0], isr=lists[1],
                              elr=lists[2], last_known_elr=lists[3], offline=lists[4]))
        ops = r.i32()  # authorized operations
        r.tags()
        topics.append(dict(name=name, error=err, id=tid, internal=internal, partitions=parts, ops=ops))
    cursor = None
    if struct.unpack(">b", r.take(1))[0] >= 0:
        cursor = (r.cstring(), r.i32())
        r.tags()
    r.tags()
    return topics, cursor


def describe_cluster_v2(correlation_id, endpoint_type=1, include_cluster_ops=False):
    return frame(header_v2(60, 2, correlation_id) + i8(1 if include_cluster_ops else 0) + i8(endpoint_type) + i8(0)
                 + NO_TAGS)


def parse_describe_cluster_v2(payload):
    """-> dict(error, message, endpoint_type, cluster_id, controller, brokers {id: (host, port, rack, fenced)},
    cluster_ops)."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    out = dict(error=r.i16(), message=r.cstring(), endpoint_type=r.take(1)[0], cluster_id=r.cstring(),
               controller=r.i32(), brokers={})
    for _ in range(r.carray_len()):
        node, host, port, rack, fenced = r.i32(), r.cstring(), r.i32(), r.cstring(), r.take(1) != b"\x00"
        r.tags()
        out["brokers"][node] = (host, port, rack, fenced)
    out["cluster_ops"] = r.i32()
    return out


def describe_groups_v6(correlation_id, groups, include_ops=False):
    return frame(header_v2(15, 6, correlation_id) + carray([cstring(g) for g in groups]) + i8(1 if include_ops else 0)
                 + NO_TAGS)


def parse_describe_groups_v6(payload):
    """-> [dict(group, error, message, state, protocol_type, members, ops)] (members: how many; ops: authorized
    operations)."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    out = []
    for _ in range(r.carray_len()):
        g = dict(error=r.i16(), message=r.cstring(), group=r.cstring(), state=r.cstring(),
                 protocol_type=r.cstring())
        r.cstring()  # protocol data
        g["members"] = r.carray_len()
        for _ in range(g["members"]):
            r.cstring(), r.cstring(), r.cstring(), r.cstring()
            r.take(max(r.uvarint() - 1, 0)), r.take(max(r.uvarint() - 1, 0)), r.tags()
        g["ops"] = r.i32()  # authorized operations
        r.tags()
        out.append(g)
    return out


def list_groups_v5(correlation_id, states=(), types=()):
    return frame(header_v2(16, 5, correlation_id) + carray([cstring(x) for x in states]) +
                 carray([cstring(x) for x in types]) + NO_TAGS)


def parse_list_groups_v5(payload):
    """-> (error, {group: (protocol_type, state, type)})."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    error = r.i16()
    groups = {}
    for _ in range(r.carray_len()):
        g, ptype, state, gtype = r.cstring(), r.cstring(), r.cstring(), r.cstring()
        r.tags()
        groups[g] = (ptype, state, gtype)
    return error, groups


def offset_commit_flexible(correlation_id, version, group, topic, partition, offset, generation=-1, member_id=""):
    """OffsetCommit v8+ (v9: KIP-848's version, the same layout) for one partition."""
    part = i32(partition) + i64(offset) + i32(-1) + cstring("") + NO_TAGS
    body = header_v2(8, version, correlation_id) + cstring(group) + i32(generation) + cstring(member_id)
    body += cstring(None) + carray([cstring(topic) + carray([part]) + NO_TAGS]) + NO_TAGS
    return frame(body)


def parse_offset_commit_flexible(payload):
    """The error code of the one partition."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    r.carray_len()
    r.cstring()
    r.carray_len()
    r.i32()
    return r.i16()


def offset_fetch_v9(correlation_id, group, topic, partition, member_id=None, member_epoch=-1):
    g = cstring(group) + cstring(member_id) + i32(member_epoch)
    g += carray([cstring(topic) + carray([i32(partition)]) + NO_TAGS]) + NO_TAGS
    return frame(header_v2(9, 9, correlation_id) + carray([g]) + i8(0) + NO_TAGS)


def parse_offset_fetch_v9(payload):
    """-> (group error, partition error, committed offset) of the one group and partition."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    r.carray_len()
    r.cstring()
    r.carray_len()
    r.cstring()
    r.carray_len()
    r.i32()
    offset = r.i64()
    r.i32()  # leader epoch
    r.cstring()  # metadata
    perr = r.i16()
    r.tags()
    r.tags()
    return r.i16(), perr, offset


def parse_offset_fetch_v9_group(payload):
    """-> (group error, {(topic, partition): (error, committed offset)}) of the one group."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    r.carray_len()
    r.cstring()
    parts = {}
    for _ in range(r.carray_len()):
        topic = r.cstring()
        for _ in range(r.carray_len()):
            p = r.i32()
            offset = r.i64()
            r.i32()  # leader epoch
            r.cstring()  # metadata
            parts[(topic, p)] = (r.i16(), offset)
            r.tags()
        r.tags()
    return r.i16(), parts


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def uvarint(self):
        v, shift = 0, 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def cstring(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def carray_len(self, nullable=False):
        n = self.uvarint() - 1
        if n < 0 and not nullable:
            return 0
        return n

    def uuid(self):
        return self.take(16)

    def tags(self):
        """The tagged fields that follow: {tag: raw bytes}."""
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint())
        return out

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError("short response")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()


class Conn:
    def __init__(self, port, timeout=5.0, host="127.0.0.1"):
        self.s = socket.create_connection((host, port), timeout=timeout)

    def send(self, data):
        self.s.sendall(data)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by broker after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return buf

    def recv_frame(self):
        n = struct.unpack(">i", self.recv_exact(4))[0]
        return self.recv_exact(n)

    def closed_by_peer(self, timeout=5.0):
        """True if the broker closes the connection (EOF or reset) within timeout,
        False if it stays open; any bytes received before the close are discarded."""
        self.s.settimeout(timeout)
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                if not self.s.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def fetch_v4(correlation_id, topic, partition, offset, max_wait_ms=100, min_bytes=1, max_bytes=1 << 20,
             isolation_level=1):
    body = header_v1(1, 4, correlation_id)
    body += i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + struct.pack(">b", isolation_level)
    body += i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + i32(max_bytes)
    return frame(body)


def fetch_v4_partitions(correlation_id, topic, partitions, max_bytes, max_wait_ms=100, min_bytes=1,
                        isolation_level=0):
    """Fetch v4 of several partitions of one topic: `partitions` lists
    (partition, offset, partition_max_bytes) in the order the broker is to fill them."""
    body = header_v1(1, 4, correlation_id)
    body += i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + struct.pack(">b", isolation_level)
    body += i32(1) + string(topic) + i32(len(partitions))
    for partition, offset, partition_max in partitions:
        body += i32(partition) + i64(offset) + i32(partition_max)
    return frame(body)


def parse_fetch_v4(payload):
    """-> (correlation_id, [dict(topic, partition, error, hw, lso, aborted, records)])"""
    r = Reader(payload)
    corr = r.i32()
    r.i32()  # throttle
    out = []
    for _ in range(r.i32()):
        t = r.string()
        for _ in range(r.i32()):
            p, err, hw, lso = r.i32(), r.i16(), r.i64(), r.i64()
            n_aborted = r.i32()
            for _ in range(max(n_aborted, 0)):
                r.i64(), r.i64()
            n = r.i32()
            recs = None if n < 0 else r.take(n)
            out.append(dict(topic=t, partition=p, error=err, hw=hw, lso=lso, aborted=n_aborted, records=recs))
    return corr, out


def batches(records):
    """[(base_offset, last_offset, record_count)] of the complete batches in a records blob."""
    out, o = [], 0
    while records is not None and o + 12 <= len(records):
        base, length = struct.unpack_from(">qi", records, o)
        if o + 12 + length > len(records):
            break  # a partial batch at the end is allowed
        last_delta = struct.unpack_from(">i", records, o + 23)[0]
        count = struct.unpack_from(">i", records, o + 57)[0]
        out.append((base, base + last_delta, count))
        o += 12 + length
    return out


def topic_partitions(topics, flexible):
    """A nullable array of (topic, [partition]) entries, as DescribeLogDirs and
    ElectLeaders send them: {topic: [partitions]}, or None (null: every one)."""
    if flexible:
        return carray(None if topics is None else [
            cstring(t) + carray([i32(p) for p in ps]) + NO_TAGS for t, ps in topics.items()])
    if topics is None:
        return i32(-1)
    return i32(len(topics)) + b"".join(
        string(t) + i32(len(ps)) + b"".join(i32(p) for p in ps) for t, ps in topics.items())


class VersionedReader:
    """A response frame read alike in classic and flexible versions: strings,
    arrays and tag sections (none before the flexible versions) by version;
    the numbers as Reader's."""

    def __init__(self, payload, flexible):
        self.flexible = flexible
        if flexible:
            self.correlation_id, self.r = flexible_response(payload)
        else:
            self.r = Reader(payload)
            self.correlation_id = self.r.i32()

    def string(self):
        return self.r.cstring() if self.flexible else self.r.string()

    def array(self, item):
        n = self.r.carray_len() if self.flexible else self.r.i32()
        return [item() for _ in range(max(n, 0))]

    def tags(self):
        if self.flexible:
            self.r.tags()

    def __getattr__(self, name):
        return getattr(self.r, name)


def plain_login(port, user, password, timeout=10.0):
    """A new connection logged in with SASL PLAIN (SaslHandshake v1,
    SaslAuthenticate v1, correlation ids 1 and 2); raises unless both succeed."""
    c = Conn(port, timeout=timeout)
    try:
        c.send(frame(header_v1(17, 1, 1) + string("PLAIN")))
        r = Reader(c.recv_frame())
        if (r.i32(), r.i16()) != (1, 0):
            raise ConnectionError("SaslHandshake PLAIN refused")
        c.send(frame(header_v1(36, 1, 2) + nbytes(b"\0" + user.encode() + b"\0" + password.encode())))
        r = Reader(c.recv_frame())
        if (r.i32(), r.i16()) != (2, 0):
            raise ConnectionError("SaslAuthenticate refused for " + user)
        return c
    except BaseException:
        c.close()
        raise


def round_trip(port, request, timeout=10.0):
    """Sends one request on a new connection and returns its response frame."""
    c = Conn(port, timeout=timeout)
    try:
        c.send(request)
        return c.recv_frame()
    finally:
        c.close()


def consumer_group_heartbeat(correlation_id, group, member_id, epoch, version=1, instance_id=None, rack_id=None,
                             rebalance_timeout_ms=-1, topics=None, regex=None, assignor=None, owned=None):
    """ConsumerGroupHeartbeat (68, KIP-848) v0/v1. owned: None (unchanged) or {topic_id: [partitions]}."""
    body = header_v2(68, version, correlation_id) + cstring(group) + cstring(member_id) + i32(epoch)
    body += cstring(instance_id) + cstring(rack_id) + i32(rebalance_timeout_ms)
    body += carray(None if topics is None else [cstring(t) for t in topics])
    if version >= 1:
        body += cstring(regex)
    body += cstring(assignor)
    body += carray(None if owned is None else
                   [tid + carray([i32(p) for p in parts]) + NO_TAGS for tid, parts in owned.items()])
    return frame(body + NO_TAGS)


def parse_consumer_group_heartbeat(payload):
    """-> dict(error, message, member_id, epoch, interval, assignment: None or {topic_id: [partitions]})."""
    _, r = flexible_response(payload)
    r.i32()  # throttle
    out = dict(error=r.i16(), message=r.cstring(), member_id=r.cstring(), epoch=r.i32(), interval=r.i32())
    present = struct.unpack(">b", r.take(1))[0]
    out["assignment"] = None
    if present >= 0:
        out["assignment"] = {}
        for _ in range(r.carray_len()):
            tid = r.uuid()
            out["assignment"][tid] = sorted(r.i32() for _ in range(r.carray_len()))
            r.tags()
        r.tags()
    r.tags()
    return out


def consumer_group_describe(correlation_id, groups, version=1):
    """ConsumerGroupDescribe (69, KIP-848)."""
    return frame(header_v2(69, version, correlation_id) + carray([cstring(g) for g in groups]) + i8(0) + NO_TAGS)


def parse_consumer_group_describe(payload, version=1):
    """-> [dict(error, message, group, state, epoch, assignment_epoch, assignor, members)]; each member a
    dict(member_id, instance_id, rack_id, epoch, client_id, client_host, topics, regex, assignment, target,
    type), assignments as {topic name: [partitions]}."""
    _, r = flexible_response(payload)
    r.i32()  # throttle

    def assignment():
        out = {}
        for _ in range(r.carray_len()):
            r.uuid()
            name = r.cstring()
            out[name] = sorted(r.i32() for _ in range(r.carray_len()))
            r.tags()
        r.tags()
        return out

    groups = []
    for _ in range(r.carray_len()):
        g = dict(error=r.i16(), message=r.cstring(), group=r.cstring(), state=r.cstring(), epoch=r.i32(),
                 assignment_epoch=r.i32(), assignor=r.cstring(), members=[])
        for _ in range(r.carray_len()):
            m = dict(member_id=r.cstring(), instance_id=r.cstring(), rack_id=r.cstring(), epoch=r.i32(),
                     client_id=r.cstring(), client_host=r.cstring(),
                     topics=[r.cstring() for _ in range(r.carray_len())], regex=r.cstring())
            m["assignment"] = assignment()
            m["target"] = assignment()
            m["type"] = struct.unpack(">b", r.take(1))[0] if version >= 1 else None
            r.tags()
            g["members"].append(m)
        r.i32()  # authorized operations
        r.tags()
        groups.append(g)
    return groups


def join_group_v5(correlation_id, group, member_id="", protocol_type="consumer", protocols=(("range", b""),),
                  instance_id=None):
    """JoinGroup v5 (not flexible): enough to see how a classic member is answered."""
    body = header_v1(11, 5, correlation_id) + string(group) + i32(30000) + i32(60000) + string(member_id)
    body += (i16(-1) if instance_id is None else string(instance_id)) + string(protocol_type)
    body += i32(len(protocols)) + b"".join(string(n) + nbytes(m) for n, m in protocols)
    return frame(body)


def parse_join_group_v5(payload):
    """-> (error, member_id)."""
    r = Reader(payload)
    r.i32()  # correlation id
    r.i32()  # throttle
    error = r.i16()
    r.i32()  # generation
    r.string()  # protocol name
    r.string()  # leader
    return error, r.string()
