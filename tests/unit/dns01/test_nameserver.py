from pathlib import Path

import pytest

from certsmith.acme.dns01 import DNS01ConfigError, Nameserver, parse_nameserver
from certsmith.acme.dns01.nameserver import FALLBACK_NAMESERVERS, resolv_conf_nameservers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.53", Nameserver("10.0.0.53", 53)),
        ("10.0.0.53:5353", Nameserver("10.0.0.53", 5353)),
        (" 10.0.0.53:53 ", Nameserver("10.0.0.53", 53)),
        ("ns1.example.com", Nameserver("ns1.example.com", 53)),
        ("ns1.example.com:8053", Nameserver("ns1.example.com", 8053)),
        ("[2001:db8::53]:5353", Nameserver("2001:db8::53", 5353)),
        ("[2001:db8::53]", Nameserver("2001:db8::53", 53)),
        ("2001:db8::53", Nameserver("2001:db8::53", 53)),
    ],
)
def test_parse_nameserver_accepts_host_and_optional_port(text, expected):
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("10.0.0.53:0", 'has an invalid port "0"'),
        ("10.0.0.53:70000", 'has an invalid port "70000"'),
        ("10.0.0.53:dns", 'has an invalid port "dns"'),
        (":53", "has no host"),
        ("[2001:db8::53", "is not of the form host[:port]"),
        ("[2001:db8::53]x", "is not of the form host[:port]"),
        ("fe80::1::2:53", "is not of the form host[:port]"),
        ("https://", "must be in the format https://<DoH RFC 8484 server address>"),
        ("https://dns.example:99999/", "is not a valid URL"),
    ],
)
def test_parse_nameserver_rejects_malformed_addresses(text, problem):
    with pytest.raises(DNS01ConfigError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_nameserver(text)


@pytest.mark.parametrize(
    ("server", "text"),
    [
        (Nameserver("10.0.0.53"), "10.0.0.53:53"),
        (Nameserver("2001:db8::53", 5353), "[2001:db8::53]:5353"),
    ],
)
def test_nameserver_prints_as_host_port_with_ipv6_in_brackets(server, text):
    assert str(server) == text
    assert parse_nameserver(text) == server


def test_resolv_conf_nameservers_reads_the_file(tmp_path: Path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.test\nnameserver 192.0.2.1\nnameserver 2001:db8::1\n")
    assert resolv_conf_nameservers(conf) == (
        Nameserver("192.0.2.1"),
        Nameserver("2001:db8::1"),
    )


@pytest.mark.parametrize("content", [None, "search example.test\n"])
def test_resolv_conf_without_nameservers_falls_back_to_google(tmp_path: Path, content):
    conf = tmp_path / "resolv.conf"
    if content is not None:
        conf.write_text(content)
    assert resolv_conf_nameservers(conf) == FALLBACK_NAMESERVERS
    assert [str(s) for s in FALLBACK_NAMESERVERS] == ["8.8.8.8:53", "8.8.4.4:53"]
