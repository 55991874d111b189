"""Every command says what it did, and what there is when there is nothing; a port in use exits 2 (issue 21)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from scripts.cli import main
from service.storage import Store
from tests.conftest import Runner
from tests.samples import ct_report_bytes


def test_standard_names_say_there_are_none_then_what_was_done(runner: Runner) -> None:
    empty = runner.invoke(["standard-names", "list"])
    assert empty.exit_code == 0
    assert empty.stdout.startswith("No standard names yet; add one with doseledger standard-names add CT ")
    assert "for MG" in runner.invoke(["standard-names", "list", "--modality", "MG"]).stdout
    added = runner.invoke(["standard-names", "add", "CT", "acquisition_protocol", "HEAD ROUTINE", "Head"])
    assert added.exit_code == 0
    assert added.stdout == (
        "Mapped 'HEAD ROUTINE' (CT acquisition_protocol) to the standard name 'Head'; "
        "audits and exports use it from now on.\n"
    )
    listed = runner.invoke(["standard-names", "list"])
    assert listed.stdout == "CT\tacquisition_protocol\tHEAD ROUTINE\tHead\n"  # rows only, for scripts
    deleted = runner.invoke(["standard-names", "delete", "CT", "acquisition_protocol", "HEAD ROUTINE"])
    assert deleted.exit_code == 0 and deleted.stdout.startswith("Deleted the standard name of 'HEAD ROUTINE'")
    again = runner.invoke(["standard-names", "delete", "CT", "acquisition_protocol", "HEAD ROUTINE"])
    assert again.exit_code == 2 and "There is no standard name for 'HEAD ROUTINE'" in again.stderr


def test_add_help_lists_the_fields_it_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["standard-names", "add", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for expected in ("MODALITY FIELD RAW STANDARD", "CT: acquisition_protocol, study_description", "MG: image_view"):
        assert expected in text
    assert "NM: radiopharmaceutical_agent" in text and "case and spaces count" in text


def test_reference_levels_say_there_are_none_then_what_was_loaded(runner: Runner, tmp_path: Path) -> None:
    empty = runner.invoke(["reference-levels"])
    assert empty.exit_code == 0 and empty.stdout.startswith("No reference levels yet; load a table with ")
    table = tmp_path / "drl.csv"
    table.write_text("name,quantity,value,unit\nHead,dlp,970,mGy.cm\nChest,dlp,350,mGy.cm\n")
    loaded = runner.invoke(["reference-levels", table])
    assert loaded.exit_code == 0
    assert loaded.stdout.splitlines() == [
        f"Loaded 2 reference levels from {table} (replacing the table there was):",
        "Chest\tdlp\t350 mGy·cm",
        "Head\tdlp\t970 mGy·cm",
    ]


def test_import_of_a_folder_without_objects_says_so(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / ".hidden.dcm").write_bytes(ct_report_bytes())
    result = runner.invoke(["import", tmp_path])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "0 created, 0 merged, 0 duplicate, 0 rejected",
        f"No objects found in {tmp_path} (hidden files and DICOMDIR are skipped).",
    ]


def test_reprocess_says_what_it_ran_over_or_that_nothing_is_kept(runner: Runner, tmp_path: Path) -> None:
    nothing = runner.invoke(["reprocess"])
    assert nothing.exit_code == 0 and nothing.stdout.splitlines()[-1].startswith("No originals are kept yet")
    (tmp_path / "a.dcm").write_bytes(ct_report_bytes())
    runner.invoke(["import", tmp_path])
    done = runner.invoke(["reprocess"])
    assert done.stdout.splitlines() == [
        "0 created, 1 merged, 0 duplicate, 0 rejected",
        "Ran extraction again over 1 kept originals.",
    ]


def test_an_export_of_nothing_says_so(runner: Runner, store: Store, tmp_path: Path) -> None:
    result = runner.invoke(["export", "ct", "-o", tmp_path / "ct.csv", "--station-name", "nowhere"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"Exported 0 CT studies (0 events) to {tmp_path / 'ct.csv'}"
    assert lines[1].startswith("No CT study matches the filters (station_name=nowhere")
    assert lines[2].startswith("Test patients are left out unless --test-patients include")
    assert (tmp_path / "ct.csv").read_text(encoding="utf-8-sig").startswith("Study instance UID,")


def test_a_web_port_in_use_exits_2_naming_it_before_anything_starts(runner: Runner) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken, socket.create_server(("127.0.0.1", 0)) as spare:
        port, scp_port = taken.getsockname()[1], spare.getsockname()[1]
        spare.close()
        result = runner.invoke(["serve", "--port", str(port)], DOSELEDGER_SCP_PORT=str(scp_port))
    assert result.exit_code == 2, result.stderr
    assert f"The web service cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "DOSELEDGER_PORT" in result.stderr and "Traceback" not in result.stderr
    assert "serving" not in result.stderr and "Storage SCP" not in result.stderr  # nothing was started
    with socket.create_server(("0.0.0.0", scp_port)):  # the SCP's port is free: it never listened
        pass


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_serve_says_where_it_serves_answers_and_stops_on_sigterm(test_config: dict[str, Any]) -> None:
    port = free_port()
    environment = {**os.environ, "MONGODB_URI": test_config["MONGODB_URI"], "DOSELEDGER_SCP_ENABLED": "false"}
    environment |= {"DOSELEDGER_DB_NAME": test_config["DOSELEDGER_DB_NAME"], "DOSELEDGER_PORT": str(port)}
    with subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "serve"], env=environment, stderr=subprocess.PIPE, text=True
    ) as served:
        try:
            assert served.stderr is not None
            line = served.stderr.readline()
            while "serving" not in line and line:
                line = served.stderr.readline()
            assert line.strip() == f"DoseLedger is serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                assert answer.status == 200 and json.load(answer)["status"] == "ok"
        finally:
            served.send_signal(signal.SIGTERM)
            assert served.wait(timeout=30) == 0
