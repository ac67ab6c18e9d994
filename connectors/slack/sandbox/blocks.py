"""Block Kit validation for message ``blocks``, with Slack's documented limits.

Slack rejects an invalid layout with ``invalid_blocks`` and one reason per problem in the style
``"must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``. :func:`validate_blocks` returns those
reasons (empty when the layout is valid). Limits (docs.slack.dev, Block Kit reference):

- at most 50 blocks per message; ``block_id`` at most 255 characters and unique within the message;
- section: ``text`` 1..3000 characters, or ``fields`` (at most 10, each at most 2000 characters);
- header: ``plain_text`` only, at most 150 characters;
- context: 1..10 elements (text objects or image elements); actions: 1..25 interactive elements;
- image: ``image_url`` at most 3000 and ``alt_text`` at most 2000 characters, ``title`` plain_text;
- rich_text: a list of rich text elements;
- text objects: ``type`` ``plain_text`` or ``mrkdwn``.
"""

from __future__ import annotations

from typing import Any

KNOWN_BLOCK_TYPES = frozenset({"section", "header", "divider", "context", "actions", "image", "rich_text"})
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
RICH_TEXT_ELEMENTS = frozenset({"rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote"})
INTERACTIVE_ELEMENTS = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "timepicker",
        "overflow",
        "radio_buttons",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "workflow_button",
        "rich_text_input",
    }
)

SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
BLOCK_ID_MAX = 255
IMAGE_URL_MAX = 3000
ALT_TEXT_MAX = 2000


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()

    def fail(self, reason: str, pointer: str) -> None:
        self.errors.append(f"{reason} [json-pointer:{pointer}]")

    def max_chars(self, value: str, limit: int, pointer: str) -> None:
        if len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)

    def max_items(self, items: list[Any], limit: int, pointer: str) -> None:
        if len(items) > limit:
            self.fail(f"no more than {limit} items allowed", pointer)

    def text_object(self, value: Any, pointer: str, limit: int, *, plain_only: bool = False) -> None:
        if not isinstance(value, dict):
            self.fail("must be an object", pointer)
            return
        kind = value.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.fail(f"must be one of: {', '.join(allowed)}", f"{pointer}/type")
        text = value.get("text")
        if not isinstance(text, str):
            self.fail("must provide a string", f"{pointer}/text")
        elif not text:
            self.fail("must be more than 0 characters", f"{pointer}/text")
        else:
            self.max_chars(text, limit, f"{pointer}/text")

    def elements(self, block: dict[str, Any], pointer: str, limit: int) -> list[Any] | None:
        elements = block.get("elements")
        if not isinstance(elements, list):
            self.fail("must provide an array", f"{pointer}/elements")
            return None
        if not elements:
            self.fail("must provide at least 1 item", f"{pointer}/elements")
        self.max_items(elements, limit, f"{pointer}/elements")
        return elements

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.fail("must be an object", pointer)
            return
        kind = block.get("type")
        if kind not in KNOWN_BLOCK_TYPES:
            self.fail(f"unsupported block type: {kind}", f"{pointer}/type")
            return
        self.block_id(block, pointer)
        getattr(self, f"_{kind}")(block, pointer)

    def block_id(self, block: dict[str, Any], pointer: str) -> None:
        if "block_id" not in block:
            return
        block_id = block["block_id"]
        if not isinstance(block_id, str):
            self.fail("must provide a string", f"{pointer}/block_id")
            return
        self.max_chars(block_id, BLOCK_ID_MAX, f"{pointer}/block_id")
        if block_id in self.block_ids:
            self.fail(f"duplicate block_id: {block_id}", f"{pointer}/block_id")
        self.block_ids.add(block_id)

    def _section(self, block: dict[str, Any], pointer: str) -> None:
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            self.fail("must provide either text or fields", pointer)
        if text is not None:
            self.text_object(text, f"{pointer}/text", SECTION_TEXT_MAX)
        if fields is not None:
            if not isinstance(fields, list):
                self.fail("must provide an array", f"{pointer}/fields")
                return
            self.max_items(fields, SECTION_FIELDS_MAX, f"{pointer}/fields")
            for index, field in enumerate(fields):
                self.text_object(field, f"{pointer}/fields/{index}", SECTION_FIELD_TEXT_MAX)
        accessory = block.get("accessory")
        if accessory is not None and not (isinstance(accessory, dict) and isinstance(accessory.get("type"), str)):
            self.fail("must be a block element object", f"{pointer}/accessory")

    def _header(self, block: dict[str, Any], pointer: str) -> None:
        self.text_object(block.get("text"), f"{pointer}/text", HEADER_TEXT_MAX, plain_only=True)

    def _divider(self, block: dict[str, Any], pointer: str) -> None:
        return None  # a divider carries nothing but its type and block_id

    def _context(self, block: dict[str, Any], pointer: str) -> None:
        for index, element in enumerate(self.elements(block, pointer, CONTEXT_ELEMENTS_MAX) or []):
            element_pointer = f"{pointer}/elements/{index}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image_fields(element, element_pointer)
            else:
                self.text_object(element, element_pointer, SECTION_TEXT_MAX)

    def _actions(self, block: dict[str, Any], pointer: str) -> None:
        for index, element in enumerate(self.elements(block, pointer, ACTIONS_ELEMENTS_MAX) or []):
            element_pointer = f"{pointer}/elements/{index}"
            if not isinstance(element, dict) or element.get("type") not in INTERACTIVE_ELEMENTS:
                self.fail("must be an interactive element", element_pointer)
            elif element["type"] == "button":
                self.text_object(element.get("text"), f"{element_pointer}/text", BUTTON_TEXT_MAX, plain_only=True)

    def _image(self, block: dict[str, Any], pointer: str) -> None:
        self.image_fields(block, pointer)
        if "title" in block:
            self.text_object(block["title"], f"{pointer}/title", ALT_TEXT_MAX, plain_only=True)

    def image_fields(self, image: dict[str, Any], pointer: str) -> None:
        url, alt_text = image.get("image_url"), image.get("alt_text")
        if isinstance(url, str):
            self.max_chars(url, IMAGE_URL_MAX, f"{pointer}/image_url")
        elif not isinstance(image.get("slack_file"), dict):
            self.fail("must provide either image_url or slack_file", pointer)
        if not isinstance(alt_text, str):
            self.fail("must provide a string", f"{pointer}/alt_text")
        else:
            self.max_chars(alt_text, ALT_TEXT_MAX, f"{pointer}/alt_text")

    def _rich_text(self, block: dict[str, Any], pointer: str) -> None:
        for index, element in enumerate(self.elements(block, pointer, 10_000) or []):
            if not isinstance(element, dict) or element.get("type") not in RICH_TEXT_ELEMENTS:
                self.fail("must be a rich text element", f"{pointer}/elements/{index}")


def validate_blocks(blocks: list[Any], max_blocks: int = 50) -> list[str]:
    """Every reason Slack would give for rejecting ``blocks``; empty when the layout is valid."""
    validator = _Validator()
    validator.max_items(blocks, max_blocks, "/blocks")
    for index, block in enumerate(blocks):
        validator.block(block, f"/blocks/{index}")
    return validator.errors
