"""The ``exec`` DNS-01 provider (a certsmith extension): run a script to add or remove the record.

So that the hundreds of DNS providers already scripted for lego's ``exec`` provider or for
acme.sh can be reused, the script is called the way lego calls it::

    <script> [args...] present _acme-challenge.example.com. <value>
    <script> [args...] cleanup _acme-challenge.example.com. <value>

with ``CERTSMITH_DNS01_{ACTION,FQDN,VALUE,ZONE,TTL,DOMAIN}`` in its environment. A zero exit
status is success; otherwise the (truncated) stderr and stdout become the error.

cert-manager's Issuer has no field for this, so it is configured as a ``dns01.webhook`` with
``groupName: acme.certsmith.io`` and ``solverName: exec`` (see docs/acme-dns01.md). Anyone who
may write an Issuer could otherwise run any program as certsmith, so the Issuer only *names* a
script and the operator maps names to paths when starting certsmith; environment variables
that change how programs are loaded (``LD_PRELOAD``, ``PATH``...) may not be set from an
Issuer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from pydantic import Field, ValidationError

from certsmith.acme.dns01.errors import DNS01ConfigError, ExecProviderError
from certsmith.acme.dns01.provider import ChallengeRequest, SecretGetter
from certsmith.api.duration import format_go_duration, parse_go_duration
from certsmith.api.meta import Model

__all__ = [
    "EXEC_GROUP_NAME",
    "EXEC_SOLVER_NAME",
    "ExecConfig",
    "ExecProvider",
    "SecretEnvSource",
    "parse_exec_command",
]

EXEC_GROUP_NAME: Final = "acme.certsmith.io"
EXEC_SOLVER_NAME: Final = "exec"
DEFAULT_TIMEOUT: Final = "2m"
OUTPUT_LIMIT: Final = 2048
"""Bytes of each of stdout and stderr kept (the end, where errors usually are)."""
_DRAIN_GRACE: Final = 1.0
"""Seconds to keep reading output after the script exited (a background child may hold it)."""

_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_PREFIXES: Final = ("LD_", "DYLD_", "CERTSMITH_")
_RESERVED_NAMES: Final = frozenset(
    {
        "PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "GCONV_PATH",
        "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PERL5LIB", "PERL5OPT", "RUBYOPT",
        "RUBYLIB", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "HOME",
    }
)  # fmt: skip


class SecretEnvSource(Model):
    """A Secret in the resource namespace whose every key becomes an environment variable."""

    name: str


class ExecConfig(Model):
    """``dns01.webhook.config`` for the exec provider."""

    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    env_from_secret: SecretEnvSource | None = None
    timeout: str = DEFAULT_TIMEOUT
    ttl: int = Field(default=60, ge=1, le=86400)


def parse_exec_command(text: str) -> tuple[str, Path]:
    """Parse an operator's ``NAME=/absolute/path`` registration of a script.

    Raises:
        ValueError: not of that form, or the path is relative.
    """
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ValueError(f'"{text}" is not NAME=PATH')
    if not Path(path).is_absolute():
        raise ValueError(f'"{text}": the path must be absolute')
    return name, Path(path)


def _check_env_name(name: str) -> None:
    if not _ENV_NAME.match(name):
        raise DNS01ConfigError(f'exec DNS-01 config: "{name}" is not an environment variable name')
    if name.upper() in _RESERVED_NAMES or name.upper().startswith(_RESERVED_PREFIXES):
        raise DNS01ConfigError(
            f'exec DNS-01 config: environment variable "{name}" may not be set from an Issuer '
            "(it could change which program runs, or is set by certsmith itself)"
        )


class ExecProvider:
    """Runs the operator-registered script that the Issuer's config names."""

    def __init__(
        self,
        commands: Mapping[str, Path],
        get_secret: SecretGetter,
        *,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        self._commands = dict(commands)
        self._get_secret = get_secret
        if base_env is None:
            base_env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")}
        self._base_env = dict(base_env)

    async def present(self, request: ChallengeRequest) -> None:
        """Run ``<script> [args] present <fqdn> <value>``."""
        await self._run(request)

    async def cleanup(self, request: ChallengeRequest) -> None:
        """Run ``<script> [args] cleanup <fqdn> <value>``."""
        await self._run(request)

    def parse_config(self, raw: object) -> ExecConfig:
        """Validate the webhook config (environment names included).

        Raises:
            DNS01ConfigError: the config does not fit :class:`ExecConfig`.
        """
        if not isinstance(raw, dict):
            raise DNS01ConfigError(
                "exec DNS-01 config must be an object with at least a command name"
            )
        try:
            config = ExecConfig.from_dict(raw)
            parse_go_duration(config.timeout)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                for e in err.errors()
            )
            raise DNS01ConfigError(f"invalid exec DNS-01 config: {problems}") from None
        except ValueError as err:
            raise DNS01ConfigError(f"invalid exec DNS-01 config: timeout: {err}") from None
        for name in config.env:
            _check_env_name(name)
        return config

    async def _environment(
        self, config: ExecConfig, request: ChallengeRequest
    ) -> tuple[dict[str, str], list[str]]:
        """The child's environment and the secret values to hide in its output."""
        env = dict(self._base_env)
        env.update(config.env)
        hidden: list[str] = []
        if config.env_from_secret is not None:
            name = config.env_from_secret.name
            secret = await self._get_secret(request.resource_namespace, name)
            if secret is None:
                raise DNS01ConfigError(f'failed to get secret "{name}": secrets "{name}" not found')
            for key in sorted({*(secret.data or {}), *(secret.string_data or {})}):
                _check_env_name(key)
                value = (secret.decoded(key) or b"").decode("utf-8", "replace")
                env[key] = value
                if value:
                    hidden.append(value)
        env.update(
            {
                "CERTSMITH_DNS01_ACTION": request.action,
                "CERTSMITH_DNS01_FQDN": request.resolved_fqdn,
                "CERTSMITH_DNS01_VALUE": request.key,
                "CERTSMITH_DNS01_ZONE": request.resolved_zone,
                "CERTSMITH_DNS01_TTL": str(config.ttl),
                "CERTSMITH_DNS01_DOMAIN": request.dns_name,
            }
        )
        return env, hidden

    async def _run(self, request: ChallengeRequest) -> None:
        config = self.parse_config(request.config)
        path = self._commands.get(config.command)
        if path is None:
            registered = ", ".join(sorted(self._commands)) or "none"
            raise DNS01ConfigError(
                f'exec DNS-01 command "{config.command}" is not registered with this certsmith '
                f"(registered: {registered}); the operator maps names to scripts with "
                "--dns01-exec NAME=PATH"
            )
        env, hidden = await self._environment(config, request)
        timeout = parse_go_duration(config.timeout).total_seconds()
        argv = [str(path), *config.args, request.action, request.resolved_fqdn, request.key]
        what = f'exec DNS-01 command "{config.command}" ({request.action} {request.resolved_fqdn})'
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _ExitProtocol(loop),
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,  # its own process group, so a timeout kills children too
            )
        except OSError as err:
            raise ExecProviderError(f"{what}: cannot start {path}: {err.strerror or err}") from err
        assert protocol.stdout is not None
        assert protocol.stderr is not None
        stdout, stderr = _Tail(), _Tail()
        readers = [
            asyncio.create_task(stdout.drain(protocol.stdout)),
            asyncio.create_task(stderr.drain(protocol.stderr)),
        ]
        try:
            timed_out = False
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(protocol.exited)  # a timeout must not cancel it
            except TimeoutError:
                timed_out = True
                _kill_group(transport.get_pid())
                await protocol.exited
            # After the exit, read what is left; a background child of the script may keep the
            # pipes open, so only for a moment.
            await _stop(readers, grace=0 if timed_out else _DRAIN_GRACE)
        finally:
            if not protocol.exited.done():  # cancelled while the script runs: end it
                _kill_group(transport.get_pid())
            for reader in readers:
                reader.cancel()
            transport.close()
        if timed_out:
            limit = format_go_duration(parse_go_duration(config.timeout))
            output = _describe_output(stdout.data, stderr.data, hidden, silent="")
            raise ExecProviderError(f"{what} did not finish within {limit} and was killed{output}")
        status = transport.get_returncode()
        if status != 0:
            output = _describe_output(stdout.data, stderr.data, hidden)
            raise ExecProviderError(f"{what} exited with status {status}{output}")


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol of ``create_subprocess_exec`` that also says when the process exited.

    ``Process.wait()`` returns only once the pipes are closed too, which a background child of
    the script can delay for ever; ``exited`` resolves on the exit itself.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


class _Tail:
    """The last :data:`OUTPUT_LIMIT` bytes of a stream, plus one to tell that it was cut."""

    def __init__(self) -> None:
        self.data = b""

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.data = (self.data + chunk)[-(OUTPUT_LIMIT + 1) :]


async def _stop(tasks: list[asyncio.Task[None]], *, grace: float) -> None:
    """Give ``tasks`` ``grace`` seconds to finish, then cancel the rest and wait for them."""
    if grace > 0:
        await asyncio.wait(tasks, timeout=grace)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _describe_output(
    stdout: bytes, stderr: bytes, hidden: list[str], *, silent: str = " and printed nothing"
) -> str:
    parts = []
    for label, data in (("stderr", stderr), ("stdout", stdout)):
        text = data[-OUTPUT_LIMIT:].decode("utf-8", "replace")
        for value in hidden:
            text = text.replace(value, "<redacted>")
        text = text.strip()
        if text:
            prefix = "…" if len(data) > OUTPUT_LIMIT else ""
            parts.append(f"{label}: {prefix}{text}")
    return (": " + "; ".join(parts)) if parts else silent
