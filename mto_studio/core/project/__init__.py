"""A project: model, data, column mapping, templates, phrase overrides, objective decisions and experiments.

A project lives in a folder::

    my-project/
      project.toml      name, model, data, columns, objectives, experiments (readable, hand-editable)
      phrases.toml      relation-phrase overrides (only when there are any)
      templates/*.toml  the project's own templates (written at once by ``save_template``)
      runs.sqlite       the run store (written by the store, not here; the project keeps its path)

Everything that affects results lives here and is written atomically; UI state does not.
"""

from mto_studio.core.project.fileformat import (
    BUILTIN_DATA,
    DEFAULT_PROJECT_NAME,
    PHRASES_FILE,
    PROJECT_FILE,
    PROJECT_FORMAT,
    RUN_STORE_FILE,
    TEMPLATES_DIR,
    ProjectError,
)
from mto_studio.core.project.model import (
    APP_NAME,
    DATA_DIR_ENV,
    DEFAULT_PROJECT_FOLDER,
    Project,
    default_project_dir,
    user_data_dir,
)

__all__ = [
    "APP_NAME",
    "BUILTIN_DATA",
    "DATA_DIR_ENV",
    "DEFAULT_PROJECT_FOLDER",
    "DEFAULT_PROJECT_NAME",
    "PHRASES_FILE",
    "PROJECT_FILE",
    "PROJECT_FORMAT",
    "RUN_STORE_FILE",
    "TEMPLATES_DIR",
    "Project",
    "ProjectError",
    "default_project_dir",
    "user_data_dir",
]
