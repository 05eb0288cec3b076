"""Test certificates, made at test time with the openssl command (no key is
ever committed): a CA, a broker certificate for 127.0.0.1/localhost signed by
it (its key encrypted with a password), a client certificate signed by it
(CN=client1,O=runnel), a certificate for brokers to present to each other
(CN=broker,O=runnel, also for 127.0.0.1/localhost; broker-keystore.pem holds
its key and chain) and a self-signed "rogue" client certificate no one
trusts. EC P-256 keys: quick to make."""
import os
import subprocess

KEY_PASSWORD = "keystore-pass"


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(name, cwd):
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
         "-out", name + ".csr", "-subj", SUBJECTS[name], cwd=cwd)


SUBJECTS = {"server": "/O=runnel/CN=localhost", "client": "/O=runnel/CN=client1", "broker": "/O=runnel/CN=broker",
            "rogue": "/O=evil/CN=rogue"}


def make_certs(directory):
    """Writes the files into `directory`; returns a dict of their paths."""
    os.makedirs(directory, exist_ok=True)
    d = directory
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "2", "-subj", "/O=runnel/CN=runnel-test-ca", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client", "broker"):
        _key(name, d)
        extra = ["-extfile", "san.ext"] if name in ("server", "broker") else []
        _run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
             name + ".pem", "-days", "2", *extra, cwd=d)
    _key("rogue", d)
    _run("x509", "-req", "-in", "rogue.csr", "-signkey", "rogue.key", "-out", "rogue.pem", "-days", "2", cwd=d)
    # The broker's keystore: its key, encrypted (ssl.key.password), and its certificate.
    _run("pkcs8", "-topk8", "-in", "server.key", "-out", "server-enc.key", "-v2", "aes-256-cbc", "-passout",
         "pass:" + KEY_PASSWORD, cwd=d)
    with open(os.path.join(d, "server-keystore.pem"), "w") as out:
        for part in ("server-enc.key", "server.pem"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    with open(os.path.join(d, "broker-keystore.pem"), "w") as out:
        for part in ("broker.key", "broker.pem"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    paths = {name: os.path.join(d, name) for name in (
        "ca.pem", "server.pem", "server.key", "server-keystore.pem", "client.pem", "client.key", "rogue.pem",
        "rogue.key", "broker.pem", "broker.key", "broker-keystore.pem")}
    return paths
