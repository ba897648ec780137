import json
import os
import signal
import stat
from pathlib import Path

import pytest

from certsmith.acme.dns01 import ChallengeRequest, DNS01ConfigError, ExecProviderError
from certsmith.acme.dns01.execprovider import OUTPUT_LIMIT, ExecProvider, parse_exec_command
from tests.dns01tools import SecretStore, make_opaque_secret
from tests.fakes import eventually


def script(tmp_path: Path, body: str, name: str = "hook.sh") -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def request(action="present", **config) -> ChallengeRequest:
    return ChallengeRequest(
        uid="uid-1",
        action=action,
        dns_name="www.example.test",
        key="txt-value",
        resource_namespace="ns",
        resolved_fqdn="_acme-challenge.www.example.test.",
        resolved_zone="example.test.",
        config={"command": "hook"} | config,
    )


def process_is_gone(pid: int) -> bool:
    """No such process, or only its zombie (state Z) is left."""
    stat_file = Path(f"/proc/{pid}/stat")
    try:
        return stat_file.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


RECORDER = """python3 - "$@" <<'PY'
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith(("CERTSMITH_", "MY_", "CF_"))}
with open(os.environ["MY_OUT"], "a") as out:
    out.write(json.dumps({"argv": sys.argv[1:], "env": env}) + "\\n")
PY
"""


@pytest.mark.parametrize("action", ["present", "cleanup"])
async def test_script_gets_lego_arguments_and_zone_ttl_in_its_environment(tmp_path, action):
    out = tmp_path / "calls.jsonl"
    hook = script(tmp_path, RECORDER)
    provider = ExecProvider({"hook": hook}, SecretStore())
    call = request(action, args=["--provider", "x"], env={"MY_OUT": str(out)}, ttl=120)
    await getattr(provider, action)(call)
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["argv"] == [
        "--provider",
        "x",
        action,
        "_acme-challenge.www.example.test.",
        "txt-value",
    ]
    assert record["env"] == {
        "MY_OUT": str(out),
        "CERTSMITH_DNS01_ACTION": action,
        "CERTSMITH_DNS01_FQDN": "_acme-challenge.www.example.test.",
        "CERTSMITH_DNS01_VALUE": "txt-value",
        "CERTSMITH_DNS01_ZONE": "example.test.",
        "CERTSMITH_DNS01_TTL": "120",
        "CERTSMITH_DNS01_DOMAIN": "www.example.test",
    }


async def test_env_from_secret_passes_every_key_of_the_secret(tmp_path):
    out = tmp_path / "calls.jsonl"
    store = SecretStore(make_opaque_secret("cf", {"CF_Token": "t0k3n", "CF_Zone_ID": "z1"}))
    provider = ExecProvider({"hook": script(tmp_path, RECORDER)}, store)
    await provider.present(request(env={"MY_OUT": str(out)}, envFromSecret={"name": "cf"}))
    record = json.loads(out.read_text())
    assert record["env"]["CF_Token"] == "t0k3n"
    assert record["env"]["CF_Zone_ID"] == "z1"
    assert store.reads == [("ns", "cf")]


async def test_non_zero_exit_reports_status_stderr_and_stdout(tmp_path):
    hook = script(tmp_path, 'echo "zone not found" >&2\necho "tried example.test"\nexit 3\n')
    provider = ExecProvider({"hook": hook}, SecretStore())
    with pytest.raises(ExecProviderError) as err:
        await provider.present(request())
    assert str(err.value) == (
        'exec DNS-01 command "hook" (present _acme-challenge.www.example.test.) exited with '
        "status 3: stderr: zone not found; stdout: tried example.test"
    )


async def test_silent_failure_says_it_printed_nothing(tmp_path):
    provider = ExecProvider({"hook": script(tmp_path, "exit 1\n")}, SecretStore())
    with pytest.raises(ExecProviderError, match=r"exited with status 1 and printed nothing$"):
        await provider.cleanup(request("cleanup"))


async def test_long_output_keeps_only_its_end(tmp_path):
    hook = script(tmp_path, "head -c 100000 /dev/zero | tr '\\0' a >&2\necho THE-END >&2\nexit 1\n")
    provider = ExecProvider({"hook": hook}, SecretStore())
    with pytest.raises(ExecProviderError) as err:
        await provider.present(request())
    text = str(err.value)
    assert text.endswith("THE-END")
    assert "stderr: …a" in text
    assert len(text) < OUTPUT_LIMIT + 200


async def test_secret_values_printed_by_the_script_are_redacted(tmp_path):
    store = SecretStore(make_opaque_secret("cf", {"CF_Token": "t0k3n-s3cret"}))
    hook = script(tmp_path, 'echo "bad token $CF_Token" >&2\nexit 1\n')
    provider = ExecProvider({"hook": hook}, store)
    with pytest.raises(ExecProviderError) as err:
        await provider.present(request(envFromSecret={"name": "cf"}))
    assert "t0k3n-s3cret" not in str(err.value)
    assert "stderr: bad token <redacted>" in str(err.value)


async def test_a_script_over_its_timeout_is_killed_with_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    hook = script(tmp_path, f"sleep 60 &\necho $! > {pidfile}\necho waiting for the API\nwait\n")
    provider = ExecProvider({"hook": hook}, SecretStore())
    with pytest.raises(ExecProviderError) as err:
        await provider.present(request(timeout="2s"))
    assert str(err.value) == (
        'exec DNS-01 command "hook" (present _acme-challenge.www.example.test.) did not finish '
        "within 2s and was killed: stdout: waiting for the API"
    )
    child = int(pidfile.read_text())
    await eventually(lambda: process_is_gone(child), timeout=10)


async def test_a_background_child_holding_the_output_does_not_block_success(tmp_path):
    pidfile = tmp_path / "child.pid"
    hook = script(tmp_path, f"sleep 60 &\necho $! > {pidfile}\nexit 0\n")
    provider = ExecProvider({"hook": hook}, SecretStore())
    try:
        await provider.present(request(timeout="1m"))
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


async def test_unregistered_command_names_the_registered_ones(tmp_path):
    provider = ExecProvider({"cloudflare": tmp_path / "cf.sh"}, SecretStore())
    with pytest.raises(DNS01ConfigError) as err:
        await provider.present(request())
    assert str(err.value) == (
        'exec DNS-01 command "hook" is not registered with this certsmith (registered: '
        "cloudflare); the operator maps names to scripts with --dns01-exec NAME=PATH"
    )


async def test_a_command_that_cannot_start_says_why(tmp_path):
    path = tmp_path / "not-executable.sh"
    path.write_text("#!/bin/sh\n")
    provider = ExecProvider({"hook": path}, SecretStore())
    with pytest.raises(
        ExecProviderError, match=r"cannot start .*not-executable.sh: Permission denied"
    ):
        await provider.present(request())


@pytest.mark.parametrize(
    "name", ["LD_PRELOAD", "ld_library_path", "PATH", "BASH_ENV", "CERTSMITH_DNS01_FQDN"]
)
async def test_environment_that_changes_what_runs_may_not_be_set(tmp_path, name):
    provider = ExecProvider({"hook": script(tmp_path, "exit 0\n")}, SecretStore())
    with pytest.raises(DNS01ConfigError, match=f'environment variable "{name}" may not be set'):
        await provider.present(request(env={name: "x"}))


async def test_secret_keys_are_checked_like_env_names(tmp_path):
    store = SecretStore(make_opaque_secret("evil", {"LD_PRELOAD": "/tmp/x.so"}))
    provider = ExecProvider({"hook": script(tmp_path, "exit 0\n")}, store)
    with pytest.raises(DNS01ConfigError, match='"LD_PRELOAD" may not be set'):
        await provider.present(request(envFromSecret={"name": "evil"}))


async def test_missing_env_secret_gives_the_cert_manager_text(tmp_path):
    provider = ExecProvider({"hook": script(tmp_path, "exit 0\n")}, SecretStore())
    with pytest.raises(DNS01ConfigError) as err:
        await provider.present(request(envFromSecret={"name": "cf"}))
    assert str(err.value) == 'failed to get secret "cf": secrets "cf" not found'


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "exec DNS-01 config must be an object with at least a command name"),
        ({}, "invalid exec DNS-01 config: command: Field required"),
        ({"command": "hook", "colour": "red"}, "invalid exec DNS-01 config: colour: Extra inputs"),
        ({"command": "hook", "timeout": "soon"}, "invalid exec DNS-01 config: timeout: "),
        ({"command": "hook", "ttl": 0}, "invalid exec DNS-01 config: ttl: Input should be"),
    ],
)
def test_invalid_config_is_reported_by_field(config, message):
    with pytest.raises(DNS01ConfigError) as err:
        ExecProvider({}, SecretStore()).parse_config(config)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("cf=/usr/local/bin/cf.sh", ("cf", Path("/usr/local/bin/cf.sh")))],
)
def test_operator_registers_scripts_as_name_equals_absolute_path(text, expected):
    assert parse_exec_command(text) == expected


@pytest.mark.parametrize("text", ["cf", "=/bin/x", "cf=", "cf=relative/x.sh"])
def test_bad_script_registrations_are_refused(text):
    with pytest.raises(ValueError, match=text.replace("/", ".")):
        parse_exec_command(text)
