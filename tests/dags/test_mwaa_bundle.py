"""The DAG folder MWAA gets (terraform/modules/mwaa uploads it): the DAG files, the project
packages beside them and an .airflowignore that keeps those packages out of parsing."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.dags.conftest import ROOT
from tests.dags.test_dag_definitions import DAG_IDS
from tests.terraform import tf_model


def test_the_uploaded_folder_parses_to_the_three_dags_and_nothing_else(tmp_path: Path) -> None:
    from airflow.models.dagbag import DagBag

    mwaa = tf_model.load_dir(ROOT / "terraform" / "modules" / "mwaa")
    packages = mwaa.locals()["project_packages"]
    ignore = mwaa.one("resource", "aws_s3_object", "airflowignore").body["content"]
    assert ignore == '${join("\\n", [for p in local.project_packages : "${p}/"])}'
    folder = tmp_path / "dags"
    folder.mkdir()
    for dag_file in (ROOT / "dags").glob("*.py"):
        shutil.copy(dag_file, folder)
    for package in packages:
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / ".airflowignore").write_text("\n".join(f"{p}/" for p in packages))

    bag = DagBag(dag_folder=str(folder), include_examples=False)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DAG_IDS
    parsed = {str(Path(stat.file).relative_to(folder)) for stat in bag.dagbag_stats}
    assert parsed == {p.name for p in (ROOT / "dags").glob("*.py")}, "package files were parsed as DAG files"
