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


def produce(correlation_id, topic, partition, batch, version=8, acks=-1, timeout_ms=5000):
    """Produce v3-v8 (not flexible): same request layout as v3."""
    body = header_v1(0, version, correlation_id)
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


def offset_fetch_v1(correlation_id, group, topic, partition):
    body = header_v1(9, 1, correlation_id) + string(group) + i32(1) + string(topic) + i32(1) + i32(partition)
    return frame(body)


def parse_offset_fetch_v1(payload):
    """(committed offset, error code) of the one partition of an OffsetFetch v1 response frame."""
    r = one_partition(payload)
    offset = r.i64()
    r.string()  # metadata
    return offset, r.i16()


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError("short response")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()


class Conn:
    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)

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
