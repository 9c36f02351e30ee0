"""The local server over HTTPS, as the real API is only served: a throwaway certificate
authority and a certificate for 127.0.0.1 (needs `cryptography`), and the server run by
uvicorn with them in its own process.

    proc, root, ca_file = start_tls_server(speed=1.0, folder=tmp)
    httpx.Client(verify=ssl.create_default_context(cafile=str(ca_file)))
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
import sys
from pathlib import Path

from bench_batch import free_port, wait_ready

# Run in the server's process: the app as `python -m venice_video.server` makes it, served
# with TLS (uvicorn's own options), its keep-alive as the server command's.
_SERVE = """
import sys, uvicorn
from venice_video.server import ServerConfig, create_app
speed, data_dir, port, cert, key = sys.argv[1:]
app = create_app(ServerConfig(speed=float(speed), data_dir=data_dir))
uvicorn.run(app, host="127.0.0.1", port=int(port), ssl_certfile=cert, ssl_keyfile=key,
            log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30)
"""


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate and key for 127.0.0.1 signed by it: (ca, cert, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def start_tls_server(speed: float, folder: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """The local server on https://127.0.0.1:<port>; its process, its root URL, the CA file."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, cert, key = make_certificates(folder)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(speed), str(folder / "data"), str(port), str(cert),
         str(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    root = f"https://127.0.0.1:{port}"
    wait_ready(proc, root, ssl.create_default_context(cafile=str(ca)))
    return proc, root, ca
