"""A real container registry on loopback for the release's push and pull: the CNCF distribution registry
(Debian's and Ubuntu's `docker-registry` package), served over TLS with a certificate of its own CA and
behind basic authentication, as ECR is, with the user and password moto's ECR hands out."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scripts.dev.rie import free_port, wait_for_port

USER = "AWS"  # what an ECR authorization token encodes, "AWS:<password>"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    ca_bundle: Path  # the system's CAs and this registry's: SSL_CERT_FILE for the Go tools
    password: str

    @property
    def token(self) -> str:
        return base64.b64encode(f"{USER}:{self.password}".encode()).decode()


def _certificate(directory: Path) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1, valid for a day; returns (cert, key, cert PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test registry")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return directory / "cert.pem", directory / "key.pem", pem


@contextmanager
def local_registry(directory: Path, password: str, system_cas: Path) -> Iterator[Registry]:
    cert, key, pem = _certificate(directory)
    (directory / "htpasswd").write_bytes(
        USER.encode() + b":" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)) + b"\n"
    )
    port = free_port()
    (directory / "config.yml").write_text(
        f"""version: 0.1
log: {{level: warn}}
storage: {{filesystem: {{rootdirectory: {directory / "data"}}}}}
http:
  addr: 127.0.0.1:{port}
  tls: {{certificate: {cert}, key: {key}}}
auth:
  htpasswd: {{realm: test, path: {directory / "htpasswd"}}}
""",
        encoding="utf-8",
    )
    bundle = directory / "ca-bundle.pem"
    bundle.write_bytes(system_cas.read_bytes() + b"\n" + pem)
    log = (directory / "registry.log").open("w")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(directory / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(f"https://127.0.0.1:{port}", timeout=20, process=process)
        yield Registry(f"127.0.0.1:{port}", bundle, password)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
