"""One digest grammar (references.py): a reference's digest, the pinned sha256 and a cosign tag read it alike."""

from __future__ import annotations

import pytest

from bot.domain.references import SHA256, parse_reference
from bot.domain.tags import why_not
from bot.domain.validate import validate_rendered
from bot.errors import ImageReferenceError, StackError

DIGESTS = [
    # (digest, a valid OCI digest)
    ("sha256:" + "ab" * 32, True),
    ("sha512:" + "0f" * 64, True),
    ("sha256:" + "AB" * 32, False),          # OCI descriptor.md: lowercase hex only
    ("sha256:" + "a" * 63, False),
    ("sha256:" + "a" * 65, False),
    ("sha256:" + "g" * 64, False),
    ("sha512:" + "a" * 64, False),           # the length belongs to the algorithm
    ("sha384:" + "a" * 96, False),
    ("md5:" + "a" * 32, False),
]


def _parses(digest: str) -> bool:
    try:
        return parse_reference(f"127.0.0.1:5000/acme/web:1.2.3@{digest}").digest == digest
    except ImageReferenceError:
        return False


@pytest.mark.parametrize(("digest", "valid"), DIGESTS)
def test_a_reference_and_a_signature_tag_read_digests_by_one_grammar(digest: str, valid: bool) -> None:
    assert _parses(digest) is valid
    for suffix in ("sig", "att", "sbom"):
        tag = digest.replace(":", "-", 1) + "." + suffix              # how cosign names the signature of `digest`
        assert (why_not(tag, two_part=False) == "signature/attestation tag") is valid, tag
    assert bool(SHA256.fullmatch(digest)) is (valid and digest.startswith("sha256:"))


def test_a_sha512_reference_parses_but_is_not_what_tagpin_pins() -> None:
    digest = "sha512:" + "0f" * 64
    assert parse_reference(f"r/web:1.2.3@{digest}").digest == digest
    rendered = f'version: "3.8"\nservices:\n  web:\n    image: "r/web:1.2.3@{digest}"\n'
    with pytest.raises(StackError, match="not pinned to a sha256 digest"):
        validate_rendered(rendered)
    with pytest.raises(ImageReferenceError, match="or 'sha512:' and 128"):
        parse_reference("r/web@sha512:abc")
