"""nbgrader settings of every user's server on a cnnlab hub: the course and its exchange.

JupyterHub's spawner puts this folder on ``JUPYTER_CONFIG_PATH`` (see
``deploy/jupyterhub/jupyterhub_config.py``); on a hub set up another way, copy it to
``/etc/jupyter/nbgrader_config.py``. The grader account also loads the course's own
configuration (``~/.jupyter/nbgrader_config.py``, written by ``setup_class.py``).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jupyterhub"))
from cnnlab_class import settings

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
_class = settings()
c.CourseDirectory.course_id = _class.course_id
c.Exchange.root = str(_class.exchange)
