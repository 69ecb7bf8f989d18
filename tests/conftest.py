"""Test session set-up.

Airflow reads its configuration when first imported, so the environment is prepared here, before any
test module imports it: a throw-away Airflow home per session, this checkout's dags/ and plugins/,
and a warehouse connection that integration fixtures point at a database of their own.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="leadflow-test-airflow-"))

os.environ["LEADFLOW_HOME"] = str(ROOT)
os.environ.setdefault("LEADFLOW_STATE_DIR", str(ROOT / ".leadflow"))

from leadflow.settings import DatabaseUrl, airflow_env  # noqa: E402

_placeholder = DatabaseUrl("127.0.0.1", 5432, "postgres", "unset", "leadflow_test_unset")
for _key, _value in airflow_env(_placeholder, airflow_home=_AIRFLOW_HOME).items():
    if _key in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        os.environ[_key] = _value  # never the developer's own Airflow home or metadata DB
    else:
        os.environ.setdefault(_key, _value)
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"

pytest_plugins = ["tests.fixtures"]
