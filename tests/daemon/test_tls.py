"""HTTPS (issue 9): the real daemon with a certificate from a CA made here with the openssl command, checked by
Python's ssl module (hostname and chain verification as any client does). Bearer tokens over TLS, plain HTTP on
the TLS port, a client that never finishes its handshake, SIGHUP certificate reloads (good and broken files),
client certificates (none, from the right CA, from another CA), and files that cannot start a server. Expected
behaviour from RFC 8446/5246 (handshake), RFC 6750 (401/403) and the README."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest

from daemon_harness import Daemon, DaemonCase, affine_expect, http_request, model_bytes, place_version
from test_security import bearer, create_token

X3 = [[1.0, 2.0, 3.0], [0.5, -1.25, 4.0]]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class TestPki:
    """A CA and certificates it signs, as PEM files in `directory` (EC P-256 keys: fast to make)."""

    def __init__(self, directory, name="Ferry Test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key = self.path("ca.key")
        self.ca = self.path("ca.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                self.ca_key, "-out", self.ca, "-days", "2", "-subj", f"/CN={name}", cwd=directory)

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, stem, common_name, server=True):
        """Writes <stem>.pem and <stem>.key: a server certificate for 127.0.0.1/localhost, or a client one."""
        key, csr, cert, ext = (self.path(stem + s) for s in (".key", ".csr", ".pem", ".ext"))
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                csr, "-subj", f"/O=Ferry Tests/CN={common_name}", cwd=self.dir)
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial", "-out", cert,
                "-days", "2", "-extfile", ext, cwd=self.dir)
        return cert, key

    def client_context(self, cert=None, key=None):
        ctx = ssl.create_default_context(cafile=self.ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx


def peer_common_name(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            subject = dict(x[0] for x in s.getpeercert()["subject"])
            return subject["commonName"]


def write_config(workdir, text):
    path = os.path.join(workdir, "ferryd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


@unittest.skipUnless(shutil.which("openssl"), "needs the openssl command")
class AffineHttpsCase(DaemonCase):
    """A daemon serving the affine model; subclasses make its certificates and config in make_daemon."""

    @classmethod
    def populate(cls, repo):
        place_version(repo, "affine", 1, "affine")


class HttpsWithTokensTest(AffineHttpsCase):
    @classmethod
    def make_daemon(cls):
        cls.pki = TestPki(os.path.join(cls.work, "pki"))
        cls.cert, cls.key = cls.pki.issue("server", "first")
        cls.tokens_file = os.path.join(cls.work, "tokens")
        cls.secrets = {}
        for name, scope in (("client", "infer"), ("ops", "manage,read")):
            rc, out, err = create_token(cls.tokens_file, name, scope)
            assert rc == 0, err
            cls.secrets[name] = out.strip()
        config = write_config(cls.work, f"tls_cert_file: {cls.cert}\ntls_key_file: {cls.key}\n"
                                        f"tokens_file: {cls.tokens_file}\nheader_timeout_seconds: 1\n")
        daemon = Daemon(cls.repo, cls.work, ["--config", config])
        daemon.ssl_context = cls.pki.client_context()
        return daemon

    def test_ready_line_names_https(self):
        self.assertIn(f"on https://127.0.0.1:{self.daemon.port}", self.daemon.ready_line())

    def test_inference_with_an_infer_token_and_management_refused_without_manage(self):
        r = self.post("/v1/models/affine:predict", {"instances": X3}, headers=bearer(self.secrets["client"]))
        self.assertValues(self.assertOkJson(r)["predictions"], affine_expect(X3))
        self.assertStatus(self.post("/v1/models/affine:predict", {"instances": X3}), 401)
        upload = ("PUT", "/v1/models/affine/versions/2", model_bytes("affine"))
        r = self.req(*upload, headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 401)
        self.assertEqual(r.headers.get("www-authenticate", "")[:6], "Bearer")
        r = self.req(*upload, headers={"Content-Type": "application/octet-stream", **bearer(self.secrets["client"])})
        self.assertStatus(r, 403)
        r = self.req(*upload, headers={"Content-Type": "application/octet-stream", **bearer(self.secrets["ops"])})
        self.assertOkJson(r, 201)
        r = self.req("DELETE", "/v1/models/affine/versions/2", headers=bearer(self.secrets["ops"]))
        self.assertStatus(r, 200)

    def test_a_client_trusting_another_ca_refuses_the_server(self):
        other = TestPki(os.path.join(self.work, "other-ca"), "Another CA")
        with self.assertRaises(ssl.SSLCertVerificationError):
            peer_common_name(self.daemon.port, other.client_context())

    def test_plain_http_on_the_https_port_gets_400(self):
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as s:
            s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
        self.assertIn(b"use https://", reply)

    def test_a_client_that_never_finishes_its_handshake_is_closed(self):
        # A TCP connection that sends nothing, and one that sends half a ClientHello: both closed by the server
        # after header_timeout_seconds (1 s), instead of holding a connection forever.
        for first_bytes in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
            with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as s:
                s.sendall(first_bytes)
                start = time.monotonic()
                try:
                    data = s.recv(4096)
                except ConnectionResetError:
                    data = b""
                waited = time.monotonic() - start
            self.assertEqual(data, b"")
            self.assertLess(waited, 8, "the server kept a silent TLS client open")
        self.assertIn("TLS handshake did not finish", self.daemon.log_text())

    def test_sighup_reloads_the_certificate_and_keeps_it_when_the_new_one_is_broken(self):
        ctx = self.pki.client_context()
        port = self.daemon.port
        self.assertEqual(peer_common_name(port, ctx), "first")
        original = {p: open(p, "rb").read() for p in (self.cert, self.key)}
        try:
            cert, key = self.pki.issue("renewed", "second")
            shutil.copy(cert, self.cert)
            shutil.copy(key, self.key)
            self.daemon.proc.send_signal(signal.SIGHUP)
            self.wait_for(lambda: "TLS certificate reloaded" in self.daemon.log_text(), what="reload line")
            self.assertEqual(peer_common_name(port, ctx), "second")
            # A key that does not belong to the certificate: the reload fails and the served one stays.
            with open(self.key, "wb") as f:
                f.write(original[self.key])  # the first certificate's key, under the second certificate
            self.daemon.proc.send_signal(signal.SIGHUP)
            self.wait_for(lambda: "TLS certificate not reloaded" in self.daemon.log_text(), what="refusal line")
            self.assertIn("does not match", self.daemon.log_text())
            self.assertEqual(peer_common_name(port, ctx), "second")
            self.assertStatus(self.get("/v2/health/ready"), 200)
        finally:
            for p, data in original.items():
                with open(p, "wb") as f:
                    f.write(data)


class ClientCertificateTest(AffineHttpsCase):
    @classmethod
    def make_daemon(cls):
        cls.pki = TestPki(os.path.join(cls.work, "pki"))
        cert, key = cls.pki.issue("server", "server")
        cls.client_cert, cls.client_key = cls.pki.issue("team-a", "team-a", server=False)
        config = write_config(cls.work, f"tls_cert_file: {cert}\ntls_key_file: {key}\n"
                                        f"tls_client_ca_file: {cls.pki.ca}\n")
        daemon = Daemon(cls.repo, cls.work, ["--config", config])
        daemon.ssl_context = cls.pki.client_context(cls.client_cert, cls.client_key)
        return daemon

    def refused(self, ctx):
        """True when a request with `ctx` gets no HTTP answer (TLS 1.3 reports the refused client certificate on
        the first read, TLS 1.2 during the handshake)."""
        try:
            http_request(self.daemon.port, "GET", "/v2/health/ready", timeout=10, ssl_context=ctx)
        except (ssl.SSLError, ConnectionError, OSError):
            return True
        return False

    def test_a_certificate_from_the_client_ca_is_served_and_logged(self):
        r = self.post("/v1/models/affine:predict", {"instances": X3})
        self.assertValues(self.assertOkJson(r)["predictions"], affine_expect(X3))
        self.wait_for(lambda: "client_cert=" in self.daemon.log_text(), what="access line")
        self.assertIn("CN=team-a", self.daemon.log_text())

    def test_no_certificate_or_one_from_another_ca_is_refused(self):
        self.assertTrue(self.refused(self.pki.client_context()), "served a client without a certificate")
        other = TestPki(os.path.join(self.work, "other-ca"), "Another CA")
        cert, key = other.issue("intruder", "team-a", server=False)
        ctx = self.pki.client_context(cert, key)
        self.assertTrue(self.refused(ctx), "served a client whose certificate another CA signed")
        self.assertStatus(self.get("/v2/health/ready"), 200)


@unittest.skipUnless(shutil.which("openssl"), "needs the openssl command")
class TlsStartupTest(DaemonCase):
    """Files that cannot serve HTTPS stop ferryd at start with a message naming them (the class daemon is plain)."""

    def start_with(self, text):
        d = Daemon(self.repo, self.work, ["--config", write_config(self.work, text)])
        with self.assertRaises(RuntimeError) as caught:
            d.start(timeout=20)
        return str(caught.exception)

    def test_missing_mismatched_and_half_configured_files(self):
        pki = TestPki(os.path.join(self.work, "pki"))
        cert, key = pki.issue("server", "server")
        other_cert, other_key = pki.issue("other", "other")
        missing = os.path.join(self.work, "nope.pem")
        self.assertIn("nope.pem", self.start_with(f"tls_cert_file: {missing}\ntls_key_file: {key}\n"))
        self.assertIn("does not match", self.start_with(f"tls_cert_file: {cert}\ntls_key_file: {other_key}\n"))
        self.assertIn("go together", self.start_with(f"tls_cert_file: {cert}\n"))
        self.assertIn("cannot load the TLS certificate", self.start_with(f"tls_cert_file: {key}\ntls_key_file: {key}\n"))
        self.assertIn("needs HTTPS", self.start_with(f"tls_client_ca_file: {pki.ca}\n"))
