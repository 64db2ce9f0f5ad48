"""Content handling without I/O: decoding, limits, formats, encryption."""

import base64
import os

import pytest

from services.common import sealing
from services.common.errors import InvalidInput, PayloadTooLarge
from services.dossier import crypto, formats
from services.dossier.rules import check_format_for, decode_content

CDA_LEVEL_1 = (
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><component><nonXMLBody>'
    b'<text mediaType="application/pdf" representation="B64">JVBERi0=</text></nonXMLBody></component>'
    b"</ClinicalDocument>"
)
CDA_LEVEL_3 = (
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component><section>'
    b"<title>Conclusion</title></section></component></structuredBody></component></ClinicalDocument>"
)


def test_empty_document_is_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        decode_content("", 100)


def test_bad_base64_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as error:
        decode_content("not base64!", 100)
    assert error.value.details == [{"field": "content", "reason": "is not valid base64"}]


def test_content_over_the_limit_is_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_content(base64.b64encode(b"x" * 1000).decode(), 100)


def test_content_at_the_limit_is_accepted() -> None:
    assert decode_content(base64.b64encode(b"x" * 100).decode(), 100) == b"x" * 100


@pytest.mark.parametrize(
    "declared, content, problem",
    [
        ("application/pdf", b"hello", "not a PDF"),
        ("application/fhir+json", b'{"a": 1}', "no resourceType"),
        ("application/fhir+json", b"{", "not JSON"),
        ("text/xml", b"plain", "not well-formed XML"),
        ("text/xml", b"<note>not a CDA</note>", "not a CDA R2 document"),
        ("text/xml", b'<ClinicalDocument xmlns="urn:hl7-org:v3"/>', "no body"),
        ("image/png", b"\xff\xd8\xff\xe0", "not a PNG"),
        ("image/jpeg", b"\x89PNG\r\n\x1a\n", "not a JPEG"),
        ("text/plain", b"\xff\xfe", "not UTF-8"),
    ],
)
def test_declared_format_must_match_the_bytes(declared: str, content: bytes, problem: str) -> None:
    assert problem in (formats.mismatch(declared, content) or "")


@pytest.mark.parametrize(
    "declared, content",
    [
        ("application/pdf", b"%PDF-1.7 ..."),
        ("application/fhir+json", b'{"resourceType": "Bundle"}'),
        ("text/xml", CDA_LEVEL_1),
        ("text/xml", CDA_LEVEL_3),
        ("text/plain", b"compte rendu"),
        ("image/jpeg", b"\xff\xd8\xff\xe0 JFIF"),
        ("image/png", b"\x89PNG\r\n\x1a\n...."),
    ],
)
def test_matching_formats_pass(declared: str, content: bytes) -> None:
    assert formats.mismatch(declared, content) is None


def test_cda_levels_are_told_apart() -> None:
    assert formats.cda_level(CDA_LEVEL_1) == 1 and formats.cda_level(CDA_LEVEL_3) == 3


def test_xml_with_entities_is_refused_before_expansion() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3">&b;</ClinicalDocument>'
    )
    assert "entities" in (formats.mismatch("text/xml", bomb) or "")
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3">&e;</ClinicalDocument>'
    )
    assert "entities" in (formats.mismatch("text/xml", external) or "")


def test_images_only_in_the_patients_own_class() -> None:
    check_format_for("90", "image/png")
    with pytest.raises(InvalidInput) as error:
        check_format_for("10", "image/jpeg")
    assert error.value.details[0]["field"] == "format"


def test_sealed_content_opens_only_in_its_place() -> None:
    master = os.urandom(32)
    key = crypto.unwrap_data_key(master, crypto.new_wrapped_data_key(master, "dos_1"), "dos_1")
    sealed = sealing.seal(key, b"result", "doc_1")
    assert sealing.open_sealed(key, sealed, "doc_1") == b"result"
    with pytest.raises(sealing.ContentCorrupted):
        sealing.open_sealed(key, sealed, "doc_2")


def test_wrapped_key_does_not_open_for_another_dossier_or_master() -> None:
    master = os.urandom(32)
    wrapped = crypto.new_wrapped_data_key(master, "dos_1")
    with pytest.raises(sealing.ContentCorrupted):
        crypto.unwrap_data_key(master, wrapped, "dos_2")
    with pytest.raises(sealing.ContentCorrupted):
        crypto.unwrap_data_key(os.urandom(32), wrapped, "dos_1")


def test_tampered_content_is_detected() -> None:
    key = os.urandom(32)
    sealed = bytearray(sealing.seal(key, b"result", "doc_1"))
    sealed[-1] ^= 1
    with pytest.raises(sealing.ContentCorrupted):
        sealing.open_sealed(key, bytes(sealed), "doc_1")
