"""The built-in commonsense world whose relations' objectives are known by construction."""

from mto_studio.core.world.generate import (
    RELATION_KIND,
    Fact,
    Probe,
    World,
    WorldConfig,
    build_world,
    world_summary,
)

__all__ = ["RELATION_KIND", "Fact", "Probe", "World", "WorldConfig", "build_world", "world_summary"]
