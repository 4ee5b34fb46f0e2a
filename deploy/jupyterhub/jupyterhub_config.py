"""JupyterHub for a cnnlab class: local Unix users, a shared grader account, nbgrader's exchange.

Start it as root (it starts each user's server as that Unix user), from the folder
that keeps the hub's state (``jupyterhub.sqlite``, the cookie secret)::

    sudo .venv/bin/python deploy/jupyterhub/setup_class.py      # users, exchange, course
    cd /srv/jupyterhub && sudo /path/to/cnnlab/.venv/bin/jupyterhub \
        -f /path/to/cnnlab/deploy/jupyterhub/jupyterhub_config.py

The class (who is instructor, grader, student; course id; exchange) comes from
``cnnlab_class.py`` and ``class.csv`` next to this file. What this configures:

* **Users**: everyone in ``class.csv`` may log in with their Unix password (PAM); the
  hub's admins are the instructors. Each user's server runs as that Unix user
  (``LocalProcessSpawner``), so students cannot read one another's files.
* **The grader account** (``grader-cnnlab`` in ``class.csv``) owns the course
  directory, the gradebook and the course secret. Instructors open its server (the
  role ``cnnlab-instructor``: ``/user/grader-cnnlab/``) and run ``nbgrader`` and
  ``python -m autograder.tools grade`` there, so grading always runs as that account.
* **nbgrader**: every server gets ``deploy/nbgrader`` on ``JUPYTER_CONFIG_PATH``
  (course id and exchange root); students' servers also get ``deploy/jupyter-students``,
  which turns off the Formgrader and Create Assignment extensions.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnnlab_class import settings

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
CLASS = settings()

# ------------------------------------------------------------------ who may log in
c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
c.Authenticator.allowed_users = set(CLASS.users)
c.Authenticator.admin_users = set(CLASS.instructors)
c.JupyterHub.load_groups = {
    "instructors": {"users": list(CLASS.instructors)},
    "students": {"users": list(CLASS.students)},
}
c.JupyterHub.load_roles = [
    {
        "name": "cnnlab-instructor",
        "description": "Open and start the grader account's server, where grading runs",
        "groups": ["instructors"],
        "scopes": [f"access:servers!user={CLASS.grader}", f"servers!user={CLASS.grader}",
                   "read:users", "list:users", "read:groups"],
    },
]

# ------------------------------------------------------------ each user's server
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.cmd = [str(CLASS.venv_bin / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 120  # a first start imports JupyterLab and nbgrader
c.Spawner.start_timeout = 120
# PATH: the course's environment first (nbgrader runs `alembic` from PATH).
_PATH = os.pathsep.join([str(CLASS.venv_bin), "/usr/local/bin", "/usr/bin", "/bin"])


def _class_environment(spawner):
    """Every server: the class's settings, and JUPYTER_CONFIG_PATH by role."""
    spawner.environment.update(CLASS.environment())
    spawner.environment["PATH"] = _PATH
    spawner.environment["JUPYTER_CONFIG_PATH"] = CLASS.jupyter_config_path(spawner.user.name)


c.Spawner.pre_spawn_hook = _class_environment
