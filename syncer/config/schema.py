"""JSON Schemas of ``syncer.yaml`` and of mapping files, for editors; connector entries come from the registry.

The schemas describe the files as written, before the loader's work: so they accept what the loader accepts there.
A field may be a string, short for ``{source: <column>}`` (the shorthand ``FieldSpec`` expands before validating),
and ``${NAME}`` references are strings, which every secret (``SecretStr``) field takes. Defaults are shown as they
are, not masked: a default is in the code, never a secret. A test checks every shipped and documented file against
these schemas.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, SecretStr, create_model
from pydantic.json_schema import GenerateJsonSchema

from syncer.config.project import ProjectConfig
from syncer.config.sync import SyncConfig
from syncer.contract.registry import Registry

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Models whose ``mode="before"`` validator also takes a plain string, and what that string means.
_SHORTHANDS = {
    "FieldSpec": {"type": "string", "description": "A column of the model: short for {source: <column>}."},
    "AdoptRule": {
        "type": "string",
        "description": "A name that is both the model column and the "
        "destination field: short for {column: x, field: x}.",
    },
    "OwnerRule": {"type": "string", "description": "The e-mail column: short for {column: <column>}."},
}


def json_schemas(registry: Registry) -> dict[str, dict[str, Any]]:
    """``{file name: schema}`` for ``syncer.schema.json`` and ``mapping.schema.json``."""
    settings = tuple(kind.settings for kind in registry.values())
    entry: Any = Annotated[Union[settings], Field(discriminator="type")]  # noqa: UP007 (a runtime tuple)
    project: type[BaseModel] = create_model(
        "ProjectConfig", __base__=ProjectConfig, connectors=(dict[str, entry], Field(default_factory=dict))
    )
    return {
        "syncer.schema.json": _finish(project.model_json_schema(schema_generator=_Generator), "syncer.yaml"),
        "mapping.schema.json": _finish(
            SyncConfig.model_json_schema(schema_generator=_Generator), "a syncer mapping (mappings/*.yaml)"
        ),
    }


class _Generator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        return super().encode_default(_reveal(dft))


def _reveal(value: Any) -> Any:
    """A default with its ``SecretStr`` values shown (pydantic would write ``**********``) and models as dicts."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _reveal(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(item) for item in value]
    return value


def _finish(schema: dict[str, Any], title: str) -> dict[str, Any]:
    definitions = schema.get("$defs", {})
    for name, shorthand in _SHORTHANDS.items():
        if name in definitions:
            definitions[name] = {"anyOf": [shorthand, definitions[name]]}
    return {"$schema": DIALECT, **schema, "title": title}
