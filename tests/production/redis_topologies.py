"""Real Redis topologies started by the tests: one server, Sentinel, Cluster, TLS, a password.

Every server is a ``redis-server`` process on free loopback ports with its files in a tmp folder
and nothing persisted; :meth:`Procs.close` kills every process the fixture started, even after a
failure. Ports for cluster nodes are picked so that ``port + 10000`` (the cluster bus) is free too.
"""

from __future__ import annotations

import datetime
import ipaddress
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_with_bus() -> int:
    """A free port below 55535 whose cluster bus port (+10000) is free as well."""
    for _ in range(500):
        port = random.randint(20000, 45000)
        if _port_free(port) and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair")


def require_redis_server() -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.fail("redis-server and redis-cli are required (scripts/test installs Debian's redis-server)")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} ({last!r})")


@dataclass
class Procs:
    """The processes one fixture started; ``close`` ends them all."""

    folder: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    argvs: dict[str, list[str]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self.argvs[name] = argv
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        """Start a killed process again with the same command line (same port, same folder)."""
        return self.start(name, self.argvs[name])

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name)


def redis_server_argv(port: int, folder: Path, *extra: str) -> list[str]:
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder), *extra]


def ping(port: int, **kw: Any) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=1, **kw)
    try:
        return bool(client.ping())
    finally:
        client.close()


# -- Sentinel -----------------------------------------------------------------------------


@dataclass
class SentinelSetup:
    procs: Procs
    master_port: int
    replica_port: int
    sentinel_port: int
    service: str = "idpmaster"

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.service}"

    def master_addr(self) -> tuple[str, int] | None:
        client = redis.Redis(port=self.sentinel_port, socket_connect_timeout=0.5, socket_timeout=1)
        try:
            addr = client.execute_command("SENTINEL", "get-master-addr-by-name", self.service)
        finally:
            client.close()
        if not addr:
            return None
        return addr[0].decode(), int(addr[1])


def start_sentinel(folder: Path, with_replica: bool = True) -> SentinelSetup:
    """A master, a replica and one Sentinel (quorum 1, one second to call the master down)."""
    require_redis_server()
    folder.mkdir(parents=True, exist_ok=True)
    procs = Procs(folder)
    master, replica, sentinel = free_port_with_bus(), free_port_with_bus(), free_port_with_bus()
    setup = SentinelSetup(procs, master, replica, sentinel)
    try:
        procs.start("master", redis_server_argv(master, folder, "--dbfilename", f"m{master}.rdb"))
        wait_until(lambda: ping(master), 10, "the sentinel's master")
        if with_replica:
            procs.start("replica", redis_server_argv(replica, folder, "--replicaof", "127.0.0.1", str(master), "--dbfilename", f"r{replica}.rdb"))
            wait_until(lambda: ping(replica), 10, "the replica")
        conf = folder / f"sentinel-{sentinel}.conf"
        conf.write_text(
            f"port {sentinel}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {setup.service} 127.0.0.1 {master} 1\n"
            f"sentinel down-after-milliseconds {setup.service} 1000\n"
            f"sentinel failover-timeout {setup.service} 5000\n"
            f"sentinel parallel-syncs {setup.service} 1\n"
        )
        procs.start("sentinel", ["redis-server", str(conf), "--sentinel"])
        wait_until(setup.master_addr, 10, "the sentinel to know its master")
        return setup
    except BaseException:
        procs.close()
        raise


# -- Cluster ------------------------------------------------------------------------------


@dataclass
class ClusterSetup:
    procs: Procs
    ports: list[int]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"


def start_cluster(folder: Path, masters: int = 3) -> ClusterSetup:
    """``masters`` cluster nodes, every slot assigned by ``redis-cli --cluster create``."""
    require_redis_server()
    folder.mkdir(parents=True, exist_ok=True)
    procs = Procs(folder)
    ports: list[int] = []
    try:
        for _ in range(masters):
            port = free_port_with_bus()
            while port in ports:
                port = free_port_with_bus()
            ports.append(port)
            node_dir = folder / str(port)
            node_dir.mkdir()
            procs.start(
                f"node{port}",
                redis_server_argv(port, node_dir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000"),
            )
        for port in ports:
            wait_until(lambda port=port: ping(port), 10, f"cluster node {port}")
        created = subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stdout.decode() + created.stderr.decode()

        def all_ok() -> bool:
            for port in ports:
                client = redis.Redis(port=port, socket_timeout=1)
                try:
                    if client.cluster("info")["cluster_state"] != "ok":
                        return False
                finally:
                    client.close()
            return True

        wait_until(all_ok, 20, "cluster_state:ok on every node")
        return ClusterSetup(procs, ports)
    except BaseException:
        procs.close()
        raise


# -- TLS and a password -----------------------------------------------------------------------


@dataclass
class TlsSetup:
    procs: Procs
    port: int
    ca_file: Path
    password: str

    @property
    def url(self) -> str:
        return f"rediss://:{self.password}@127.0.0.1:{self.port}/0?ssl_cert_reqs=required&ssl_ca_certs={self.ca_file}"


def _self_signed(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (``cryptography``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


def start_tls(folder: Path, password: str) -> TlsSetup:
    """``redis-server`` answering TLS only (``--port 0``), with ``requirepass``."""
    require_redis_server()
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = _self_signed(folder)
    procs = Procs(folder)
    port = free_port_with_bus()
    try:
        procs.start(
            "tls",
            [
                "redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                "--tls-cert-file", str(cert_file), "--tls-key-file", str(key_file), "--tls-ca-cert-file", str(ca_file),
                "--tls-auth-clients", "no", "--requirepass", password, "--save", "", "--appendonly", "no", "--dir", str(folder),
            ],
        )
        wait_until(
            lambda: ping(port, ssl=True, ssl_ca_certs=str(ca_file), ssl_cert_reqs="required", password=password), 10, "the TLS server"
        )
        return TlsSetup(procs, port, ca_file, password)
    except BaseException:
        procs.close()
        raise
