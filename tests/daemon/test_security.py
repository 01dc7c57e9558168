"""Who may call what (issue 9): bearer tokens made with `ferryd token create`, scopes and model patterns on the
real daemon, the access and audit log lines, SIGHUP reloads, and management closed on a non-loopback address
without tokens. Expected statuses from RFC 6750 (401 + WWW-Authenticate: Bearer) and the README's table."""

import hashlib
import os
import signal
import stat
import subprocess

from daemon_harness import CONFIG, Daemon, DaemonCase, affine_expect, model_bytes, place_version

X3 = [[1.0, 2.0, 3.0], [0.5, -1.25, 4.0]]


def create_token(tokens_file, name, scope, models=None):
    """Runs `ferryd token create`; returns (exit code, stdout, stderr)."""
    argv = [CONFIG["ferryd"], "token", "create", "--tokens-file", tokens_file, "--name", name, "--scope", scope]
    if models:
        argv += ["--models", models]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


class TokenCliTest(DaemonCase):
    """`ferryd token create` alone (the class daemon is not used)."""

    def test_create_prints_the_secret_once_and_stores_its_hash(self):
        path = os.path.join(self.work, "tokens")
        rc, out, err = create_token(path, "ci", "infer,read", "team-*")
        self.assertEqual(rc, 0, err)
        secret = out.strip()
        self.assertRegex(secret, r"^ferry_[0-9a-f]{64}$")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            text = f.read()
        self.assertNotIn(secret, text)
        self.assertEqual(text.split(), ["ci", "infer,read", "team-*", hashlib.sha256(secret.encode()).hexdigest()])
        rc, out2, _ = create_token(path, "other", "admin")
        self.assertEqual(rc, 0)
        self.assertNotEqual(out2.strip(), secret)
        for bad in (("ci", "read"), ("bad/name", "read"), ("x", "write"), ("y", "read", "a/b")):
            rc, out, err = create_token(path, *bad)
            self.assertEqual(rc, 2, f"{bad}: {err}")
            self.assertEqual(out, "")
        with open(path) as f:
            self.assertEqual(len(f.read().splitlines()), 2)


class TokenAuthTest(DaemonCase):
    @classmethod
    def populate(cls, repo):
        place_version(repo, "affine", 1, "affine")
        place_version(repo, "team-a-affine", 1, "affine")

    @classmethod
    def daemon_args(cls, workdir):
        cls.tokens_file = os.path.join(workdir, "tokens")
        cls.secrets = {}
        for name, scope, models in (("admin", "admin", None), ("client", "infer", None),
                                    ("team-a", "manage,read,infer", "team-a-*")):
            rc, out, err = create_token(cls.tokens_file, name, scope, models)
            assert rc == 0, err
            cls.secrets[name] = out.strip()
        config = os.path.join(workdir, "ferryd.yaml")
        with open(config, "w") as f:
            f.write(f"tokens_file: {cls.tokens_file}\n")
        return ["--config", config]

    def test_every_route_but_health_needs_a_token(self):
        self.assertStatus(self.get("/v2/health/ready"), 200)
        self.assertStatus(self.get("/v2"), 200)
        for method, path in (("GET", "/v1/models/affine"), ("POST", "/v1/models/affine:predict"),
                             ("GET", "/metrics"), ("POST", "/v2/repository/index"),
                             ("PUT", "/v1/models/x/versions/1")):
            r = self.req(method, path, b"{}")
            self.assertError(r, 401, what=path)
            self.assertEqual(r.headers.get("www-authenticate"), 'Bearer realm="ferryd"', path)
            self.assertError(self.req(method, path, b"{}", headers=bearer("ferry_" + "0" * 64)), 401, what=path)

    def test_scopes_and_model_patterns(self):
        client, team, admin = self.secrets["client"], self.secrets["team-a"], self.secrets["admin"]
        r = self.post("/v1/models/affine:predict", {"instances": X3}, headers=bearer(client))
        self.assertValues(self.assertOkJson(r)["predictions"], affine_expect(X3))
        self.assertError(self.get("/v1/models/affine", headers=bearer(client)), 403, "no read scope")
        self.assertError(self.req("PUT", "/v1/models/evil/versions/1", model_bytes("affine"), headers=bearer(client)),
                         403, "no manage scope")
        # The team's token manages its own models only.
        self.assertStatus(self.req("PUT", "/v1/models/team-a-new/versions/1", model_bytes("affine"),
                                   headers=bearer(team)), 201)
        self.assertError(self.req("PUT", "/v1/models/affine/config", "max_batch_size: 2\n", headers=bearer(team)),
                         403, "does not cover model \"affine\"")
        self.assertError(self.get("/metrics", headers=bearer(team)), 403)
        self.assertStatus(self.get("/metrics", headers=bearer(admin)), 200)
        self.assertStatus(self.req("DELETE", "/v1/models/team-a-new/versions/1", headers=bearer(admin)), 200)

    def test_logs_name_the_token_never_the_secret(self):
        team = self.secrets["team-a"]
        self.assertStatus(self.req("PUT", "/v1/models/team-a-affine/config", "max_batch_size: 4\n",
                                   headers=bearer(team)), 200)
        self.wait_for(lambda: "audit" in self.daemon.log_text(), 5, "an audit line")
        log = self.daemon.log_text()
        for secret in self.secrets.values():
            self.assertNotIn(secret, log)
        audit = [l for l in log.splitlines() if "audit" in l and "team-a-affine/config" in l]
        self.assertTrue(audit, log[-2000:])
        self.assertIn("token=team-a", audit[-1])
        self.assertIn("status=200", audit[-1])
        self.assertTrue([l for l in log.splitlines() if "request method=PUT" in l and "token=team-a" in l])

    def test_sighup_reloads_the_tokens(self):
        rc, out, err = create_token(self.tokens_file, "late", "read")
        self.assertEqual(rc, 0, err)
        late = out.strip()
        self.assertError(self.get("/v1/models/affine", headers=bearer(late)), 401)
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "bearer tokens reloaded" in self.daemon.log_text(), 10, "the reload line")
        self.assertOkJson(self.get("/v1/models/affine", headers=bearer(late)))
        # A broken file keeps the previous tokens.
        with open(self.tokens_file, "a") as f:
            f.write("broken line\n")
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "tokens file not reloaded" in self.daemon.log_text(), 10, "the refusal line")
        self.assertOkJson(self.get("/v1/models/affine", headers=bearer(late)))
        with open(self.tokens_file) as f:
            lines = [l for l in f if not l.startswith("broken")]
        with open(self.tokens_file, "w") as f:
            f.writelines(lines)


class NonLoopbackDaemon(Daemon):
    def argv(self, port):
        return [CONFIG["ferryd"], "serve", "--model-repository", self.repo, "--port", str(port), "--host", "0.0.0.0"]


class NonLoopbackWithoutTokensTest(DaemonCase):
    """On 0.0.0.0 without tokens, anyone who reaches the port could replace the models: management is closed."""

    @classmethod
    def populate(cls, repo):
        place_version(repo, "affine", 1, "affine")

    @classmethod
    def make_daemon(cls):
        return NonLoopbackDaemon(cls.repo, cls.work)

    def test_management_is_refused_and_inference_served(self):
        before = sorted(os.listdir(self.repo))
        self.assertError(self.req("PUT", "/v1/models/x/versions/1", model_bytes("affine")), 403, "set tokens_file")
        self.assertError(self.req("POST", "/v2/repository/models/affine/unload"), 403)
        self.assertError(self.req("DELETE", "/v1/models/affine/versions/1"), 403)
        self.assertEqual(sorted(os.listdir(self.repo)), before)
        r = self.post("/v1/models/affine:predict", {"instances": X3})
        self.assertValues(self.assertOkJson(r)["predictions"], affine_expect(X3))
        self.assertIn("management routes answer 403", self.daemon.log_text())
