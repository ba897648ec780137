"""The test-only ``--clock-offset-file`` of serve and controller, down to ControllerOptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsmith.app import controller_options
from certsmith.cli.main import build_parser
from certsmith.cli.serve import controller_clock
from certsmith.util.clock import OffsetFileClock, SystemClock

COMMANDS = [("serve", "--data-dir", "d"), ("controller",)]


@pytest.mark.parametrize("command", COMMANDS)
def test_without_the_flag_the_controllers_use_the_wall_clock(command: tuple[str, ...]) -> None:
    args = build_parser().parse_args(list(command))
    assert controller_clock(args) is None
    options = controller_options(clock=controller_clock(args))
    assert options is not None
    assert isinstance(options.clock, SystemClock)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_flag_gives_the_controllers_an_offset_file_clock(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "offset").write_text("3600")
    args = build_parser().parse_args([*command, "--clock-offset-file", str(tmp_path / "offset")])
    clock = controller_clock(args)
    assert isinstance(clock, OffsetFileClock)
    assert clock.offset.total_seconds() == 3600
    options = controller_options(clock=clock)
    assert options is not None
    assert options.clock is clock


@pytest.mark.parametrize("command", COMMANDS)
def test_the_flag_is_not_in_help(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command[0], "--help"])
    assert "clock-offset" not in capsys.readouterr().out
