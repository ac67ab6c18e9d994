"""JSON Schemas of ``syncer.yaml`` and of mapping files, for editors; connector entries come from the registry."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, create_model

from syncer.config.project import ProjectConfig
from syncer.config.sync import SyncConfig
from syncer.delivery.registry import Registry


def json_schemas(registry: Registry) -> dict[str, dict[str, Any]]:
    """``{file name: schema}`` for ``syncer.schema.json`` and ``mapping.schema.json``."""
    settings = tuple(kind.settings for kind in registry.values())
    entry: Any = Annotated[Union[settings], Field(discriminator="type")]  # noqa: UP007 (a runtime tuple)
    project: type[BaseModel] = create_model("ProjectConfig", __base__=ProjectConfig,
                                            connectors=(dict[str, entry], Field(default_factory=dict)))
    return {"syncer.schema.json": project.model_json_schema(), "mapping.schema.json": SyncConfig.model_json_schema()}
