"""Content Credentials: a signed C2PA manifest declaring the video AI-generated.

Uses ``c2pa-python`` (the Content Authenticity Initiative's bindings to the Rust ``c2pa`` SDK;
requirement ``c2pa-python==0.38.1``). It works offline: signing needs only the user's certificate
chain and private key (no timestamp authority unless ``tsa_url`` is given), and reading validates
the signature, the certificate chain's shape and the hash of the whole file.

The manifest holds a ``c2pa.actions`` assertion with one ``c2pa.created`` action whose
``digitalSourceType`` is IPTC ``trainedAlgorithmicMedia`` (the C2PA way of saying "made by a
generative model"), the software agent (talkinghead and its version), and a
``org.talkinghead.provenance`` assertion (job id, script SHA-256, watermark on/off).

Certificates: c2pa refuses self-signed signing certificates. The signing certificate must be an
end-entity certificate (``basicConstraints CA:FALSE``) with ``keyUsage digitalSignature`` and an
``extendedKeyUsage`` C2PA accepts (``emailProtection``, ``documentSigning``, ...), issued by a CA;
``--sign-cert`` is the PEM chain *leaf first* (leaf, then intermediates). Supported keys: EC P-256
/ P-384 / P-521 (ES256/384/512), Ed25519, RSA (PS256). :func:`make_test_credentials` builds such
a chain (a throw-away CA and leaf) for tests and trials; a signature made with it is "Valid" but
not "Trusted" unless its CA is given as a trust anchor.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import DependencyError, InputError, MediaError, OutputError
from ..fileio import atomic_path
from .metadata import DIGITAL_SOURCE_TYPE, GENERATOR

#: The pip requirement line this module was written and tested against.
REQUIREMENT = "c2pa-python==0.38.1"


def _c2pa():
    try:
        import c2pa
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DependencyError(
            f"C2PA signing/reading needs the c2pa-python package: pip install '{REQUIREMENT}'"
        ) from exc
    return c2pa


def c2pa_available() -> bool:
    """True when ``c2pa-python`` can be imported."""
    try:
        _c2pa()
    except DependencyError:
        return False
    return True


def build_manifest(
    *,
    title: str = "talkinghead video",
    job_id: str | None = None,
    script_sha256: str | None = None,
    watermark: bool | None = None,
) -> dict:
    """The manifest definition (a dict, as c2pa's ``Builder`` takes it)."""
    agent = {"name": GENERATOR, "version": __version__}
    extra = {"generator": GENERATOR, "generator_version": __version__, "synthetic": True}
    if job_id is not None:
        extra["job_id"] = job_id
    if script_sha256 is not None:
        extra["script_sha256"] = script_sha256
    if watermark is not None:
        extra["watermark"] = "on" if watermark else "off"
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": DIGITAL_SOURCE_TYPE,
                            "softwareAgent": agent,
                            "description": "Synthetic talking-head video: speech and lip motion "
                                           "generated from a script",
                        }
                    ]
                },
            },
            {"label": "org.talkinghead.provenance", "data": extra},
        ],
    }


def _read_pem(path: str | os.PathLike, what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {p} not found")
    data = p.read_bytes()
    if b"-----BEGIN" not in data:
        raise InputError(f"{what} {p} is not a PEM file")
    return data


def signing_algorithm(key_pem: bytes) -> str:
    """The C2PA algorithm name for a PEM private key (``es256``, ``es384``, ``es512``,
    ``ed25519`` or ``ps256``). Raises InputError for other keys."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot load the signing key (unencrypted PEM needed): {exc}") from exc
    if isinstance(key, ec.EllipticCurvePrivateKey):
        name = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
        if name:
            return name
        raise InputError(f"unsupported EC curve {key.curve.name} (use P-256, P-384 or P-521)")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise InputError(f"unsupported signing key type {type(key).__name__}")


def _signer(cert: str | os.PathLike, key: str | os.PathLike, tsa_url: str | None = None):
    """A c2pa ``Signer`` of the PEM certificate chain and key (close it after use).

    Raises:
        InputError: unreadable, non-PEM or unsupported certificate or key, or c2pa refuses them.
        DependencyError: c2pa-python is not installed.
    """
    c2pa = _c2pa()
    cert_pem = _read_pem(cert, "certificate")
    key_pem = _read_pem(key, "private key")
    alg = signing_algorithm(key_pem)
    try:
        info = c2pa.C2paSignerInfo(alg.encode(), cert_pem, key_pem, tsa_url)
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        raise InputError(f"c2pa refused the certificate/key: {exc}") from exc


def check_signing_credentials(cert: str | os.PathLike, key: str | os.PathLike) -> None:
    """Check before any work that :func:`sign_c2pa` will accept this certificate and key (the
    same errors, raised before a long render instead of after it)."""
    _signer(cert, key).close()


def sign_c2pa(
    mp4_path: str | os.PathLike,
    cert: str | os.PathLike,
    key: str | os.PathLike,
    *,
    manifest: dict | None = None,
    tsa_url: str | None = None,
    output: str | os.PathLike | None = None,
) -> Path:
    """Embed a signed C2PA manifest in an mp4 (atomically: signed into a temp file, renamed).

    Args:
        mp4_path: the video to sign.
        cert: PEM certificate chain, signing (leaf) certificate first.
        key: PEM private key of the leaf certificate (unencrypted).
        manifest: manifest definition (default :func:`build_manifest` ``()``; pass one built
            with the job's id, script hash and watermark flag).
        tsa_url: RFC 3161 timestamp authority URL (needs network; default none).
        output: where to write the signed video (default: replace ``mp4_path``).

    Returns:
        The path of the signed video.

    Raises:
        InputError: unreadable/unsupported certificate or key, or c2pa refuses them.
        DependencyError: c2pa-python is not installed.
        OutputError: the output cannot be written.
    """
    c2pa = _c2pa()
    src = Path(mp4_path)
    if not src.is_file():
        raise MediaError(f"file not found: {src}")
    dst = Path(output) if output is not None else src
    definition = manifest if manifest is not None else build_manifest(title=dst.name)
    signer = _signer(cert, key, tsa_url)
    with atomic_path(dst) as tmp:
        try:
            with c2pa.Builder(json.dumps(definition)) as builder, open(src, "rb") as fin, \
                    open(tmp, "w+b") as fout:
                builder.sign(signer, "video/mp4", fin, fout)
        except c2pa.C2paError as exc:
            msg = str(exc)
            if "ertificate" in msg or "ignature" in msg or "key" in msg.lower():
                raise InputError(f"c2pa refused to sign with {Path(cert).name}: {msg}") from exc
            raise OutputError(f"cannot sign {src}: {msg}") from exc
        finally:
            signer.close()
    return dst


@dataclass
class C2paReport:
    """What :func:`read_c2pa` found.

    Attributes:
        present: the file holds a C2PA manifest.
        validation_state: c2pa's verdict: ``"Trusted"`` (valid, signer chains to a trust anchor
            given), ``"Valid"`` (signature and hashes valid, signer not in a trust list),
            ``"Invalid"`` (tampered file, bad signature...); ``""`` when absent.
        ai_generated: an action declares ``digitalSourceType`` trainedAlgorithmicMedia.
        generator: the claim generator (name and version).
        signer: the signing certificate's subject (common name, issuer).
        failures: c2pa failure codes (e.g. ``assertion.bmffHash.mismatch``,
            ``signingCredential.untrusted``).
        assertions: labels of the active manifest's assertions.
        provenance: the ``org.talkinghead.provenance`` assertion, if any.
    """

    present: bool
    validation_state: str = ""
    ai_generated: bool = False
    generator: str = ""
    signer: str = ""
    failures: list[str] = field(default_factory=list)
    assertions: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Signature and content hashes are valid (trusted or not)."""
        return self.validation_state in ("Valid", "Trusted")


def read_c2pa(path: str | os.PathLike, trust_anchors: str | os.PathLike | None = None) -> C2paReport:
    """Read and validate the C2PA manifest of a file.

    Args:
        path: the video.
        trust_anchors: PEM file of CA certificates to trust (the signer is then reported
            ``"Trusted"`` when it chains to one of them).

    Raises:
        DependencyError: c2pa-python is not installed. MediaError: missing file.
    """
    c2pa = _c2pa()
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"file not found: {p}")
    context = None
    if trust_anchors is not None:
        pem = _read_pem(trust_anchors, "trust anchors").decode("ascii", "replace")
        context = c2pa.Context.from_dict({"trust": {"trust_anchors": pem}})
    try:
        reader = c2pa.Reader.try_create(str(p), context=context) if context is not None \
            else c2pa.Reader.try_create(str(p))
    except c2pa.C2paError as exc:
        # a damaged manifest is reported as invalid rather than raised
        return C2paReport(present=True, validation_state="Invalid", failures=[str(exc)])
    if reader is None:
        return C2paReport(present=False)
    with reader:
        state = reader.get_validation_state() or ""
        results = reader.get_validation_results() or {}
        manifest = reader.get_active_manifest() or {}
    failures = [f.get("code", "") for f in (results.get("activeManifest", {}) or {}).get("failure", []) or []]
    labels, ai, prov = [], False, {}
    for a in manifest.get("assertions", []) or []:
        label = a.get("label", "")
        labels.append(label)
        if label.startswith("c2pa.actions"):
            for act in (a.get("data", {}) or {}).get("actions", []) or []:
                if str(act.get("digitalSourceType", "")).endswith("trainedAlgorithmicMedia"):
                    ai = True
        if label == "org.talkinghead.provenance":
            prov = a.get("data", {}) or {}
    gen = ""
    info = manifest.get("claim_generator_info") or []
    if info:
        gen = " ".join(str(info[0].get(k, "")) for k in ("name", "version")).strip()
    sig = manifest.get("signature_info") or {}
    signer = ", ".join(s for s in (sig.get("common_name"), f"issuer {sig['issuer']}" if sig.get("issuer") else None) if s)
    return C2paReport(present=True, validation_state=state, ai_generated=ai, generator=gen,
                      signer=signer, failures=failures, assertions=labels, provenance=prov)


def make_test_credentials(folder: str | os.PathLike, *, days: int = 30) -> tuple[Path, Path, Path]:
    """Write a throw-away ES256 CA and signing certificate (for tests and trials only).

    Returns:
        ``(chain_pem, key_pem, ca_pem)``: the leaf + CA chain to pass as ``--sign-cert``, the
        leaf's private key (``--sign-key``), and the CA certificate (a trust anchor for
        ``talkinghead verify --trust``).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "talkinghead test credentials")])

    def usage(**on) -> x509.KeyUsage:
        names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                 "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
        return x509.KeyUsage(**{n: bool(on.get(n, False)) for n in names})

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("talkinghead test CA")).issuer_name(name("talkinghead test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - _dt.timedelta(days=1)).not_valid_after(now + _dt.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(name("talkinghead test signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(days=1)).not_valid_after(now + _dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain, key_path, ca_path = out / "signer_chain.pem", out / "signer_key.pem", out / "test_ca.pem"
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    ca_path.write_bytes(ca.public_bytes(pem))
    return chain, key_path, ca_path
