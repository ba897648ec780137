import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith.util.log import RedactingFilter, redact
from certsmith.util.sensitive import Sensitive


def _pem_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_sensitive_never_prints_its_value():
    secret = Sensitive(b"top secret")
    assert "top secret" not in repr(secret)
    assert "top secret" not in str(secret)
    assert f"{secret}" == "<redacted>"
    assert secret.reveal() == b"top secret"


def test_redact_removes_every_private_key_block_and_keeps_the_rest():
    text = f"before {_pem_key()} middle {_pem_key()} after"
    cleaned = redact(text)
    assert "PRIVATE KEY" not in cleaned
    assert cleaned.startswith("before ")
    assert " middle " in cleaned
    assert cleaned.endswith(" after")


def test_log_filter_redacts_private_keys_in_messages_and_exceptions(caplog):
    logger = logging.getLogger("certsmith.test.redaction")
    logger.addFilter(RedactingFilter())
    pem = _pem_key()
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("loaded %s", pem)
        try:
            raise ValueError(pem)
        except ValueError:
            logger.exception("failed")
    assert "PRIVATE KEY" not in caplog.text
    assert "loaded <redacted private key>" in caplog.text
