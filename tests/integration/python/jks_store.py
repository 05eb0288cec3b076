"""Java KeyStore (JKS) files made at test time from the openssl-made
certificates of tls_certs.py, in the format keytool writes (version 2, Sun's
key protector; no key is ever committed). keytool itself, where it is
installed, makes the same stores in test_tls_stores.py, so that the broker is
also checked against Java's own writer."""
import hashlib
import os
import struct
import subprocess
import time

KEY_PROTECTOR_OID = (1, 3, 6, 1, 4, 1, 42, 2, 17, 1, 1)


def _der(tag, body):
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def _oid(arcs):
    body = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _der(0x06, body)


def _password(password):
    return password.encode("utf-16-be")


def protect_key(pkcs8_der, password):
    """Sun's key protector over a PKCS#8 key, as an EncryptedPrivateKeyInfo."""
    pw = _password(password)
    salt = os.urandom(20)
    sealed, block = bytearray(salt), salt
    for at in range(0, len(pkcs8_der), 20):
        block = hashlib.sha1(pw + block).digest()
        sealed += bytes(a ^ b for a, b in zip(pkcs8_der[at:at + 20], block))
    sealed += hashlib.sha1(pw + pkcs8_der).digest()
    algorithm = _der(0x30, _oid(KEY_PROTECTOR_OID) + b"\x05\x00")
    return _der(0x30, algorithm + _der(0x04, bytes(sealed)))


def _utf(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def jks_bytes(store_password, keys=(), trusted=()):
    """keys: (alias, pkcs8_der, [cert_der, ...], key_password); trusted: (alias, cert_der)."""
    now = int(time.time() * 1000)
    out = struct.pack(">III", 0xFEEDFEED, 2, len(keys) + len(trusted))
    for alias, pkcs8, chain, key_password in keys:
        protected = protect_key(pkcs8, key_password)
        out += struct.pack(">I", 1) + _utf(alias) + struct.pack(">QI", now, len(protected)) + protected
        out += struct.pack(">I", len(chain))
        for cert in chain:
            out += _utf("X.509") + struct.pack(">I", len(cert)) + cert
    for alias, cert in trusted:
        out += struct.pack(">I", 2) + _utf(alias) + struct.pack(">Q", now) + _utf("X.509")
        out += struct.pack(">I", len(cert)) + cert
    return out + hashlib.sha1(_password(store_password) + b"Mighty Aphrodite" + out).digest()


def _openssl_der(*args):
    return subprocess.run(["openssl", *args, "-outform", "DER"], check=True, capture_output=True).stdout


def make_jks_stores(certs, directory, store_password, key_password):
    """server.jks (the broker's key under `key_password`, its certificate and
    the CA) and trust.jks (the CA as a trusted certificate entry) in
    `directory`; returns their paths."""
    pkcs8 = _openssl_der("pkcs8", "-topk8", "-nocrypt", "-in", certs["server.key"])
    server = _openssl_der("x509", "-in", certs["server.pem"])
    ca = _openssl_der("x509", "-in", certs["ca.pem"])
    paths = {n: os.path.join(directory, n) for n in ("server.jks", "trust.jks")}
    with open(paths["server.jks"], "wb") as f:
        f.write(jks_bytes(store_password, keys=[("broker", pkcs8, [server, ca], key_password)]))
    with open(paths["trust.jks"], "wb") as f:
        f.write(jks_bytes(store_password, trusted=[("ca", ca)]))
    return paths
