"""Writing XML with lxml: the serialiser escapes; we only drop what XML cannot carry."""

from __future__ import annotations

import re

from lxml import etree

# Characters XML 1.0 cannot carry at all.  Clean post HTML may still hold
# some (a feed's stray control characters are harmless in HTML), so every
# string is passed through ``xml_text`` on its way into a document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """The text without the characters XML 1.0 forbids (most control characters)."""
    return _NOT_XML.sub("", value)


def add(
    parent: etree._Element, tag: str, text: str | None = None, /, **attributes: str
) -> etree._Element:
    """A new child element with this text and these attributes (any name, even ``text``)."""
    element = etree.SubElement(parent, tag, {k: xml_text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def xml_bytes(root: etree._Element) -> bytes:
    """UTF-8 with an XML declaration, indented."""
    return etree.tostring(root, encoding="utf-8", xml_declaration=True, pretty_print=True)
