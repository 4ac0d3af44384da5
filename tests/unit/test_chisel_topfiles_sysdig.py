"""topfiles_time and topfiles_errors against what sysdig 0.29.3's chisels of those names print.

The expected rows are `TZ=UTC sysdig -r tests/data/scap/NAME.scap -c topfiles_time|topfiles_errors`
(captures where sysdig prints no row are checked for an empty table). Rows are compared as multisets.
"""

import pytest

from chisel.plugins.testing import run_chisel

from test_chisel_golden import CAPTURES, RULE, TWINS, capture

SYSDIG_ROWS = {
    ('falco_cat_write', 'topfiles_time'): [
        '1.40us              /lib/x86_64-linux-gnu/libc.so.6',
        '532ns               /dev/null',
    ],
    ('falco_psp_run_as_user_0_container', 'topfiles_time'): [
        '3.44ms              /dev/tty',
        '959us               /lib/x86_64-linux-gnu/libselinux.so.1',
        '534us               /lib/x86_64-linux-gnu/libpcre.so.3',
        '455us               /lib/x86_64-linux-gnu/libpthread.so.0',
        '356us               /dev/pts/0',
        '180us               /dev/ptmx',
        '49us                /dev/pts/5',
        '32us                /dev/pts/ptmx',
        '29us                /var/lib/docker/containers/697956520d891b5cb0e215093970c733549a3f745f52263c05b37f8a488994f3/697956520d891b5cb0e215093970c733549a3f745f52263c05b37f8a488994f3-json.log',
        '20us                /proc/filesystems',
    ],
    ('falco_psp_run_as_user_0_container', 'topfiles_errors'): [
        '3                   /dev/pts/ptmx',
    ],
    ('libs_curl_google', 'topfiles_time'): [
        '21us                /dev/urandom',
        '3.07us              /etc/resolv.conf',
        '2.18us              /etc/nsswitch.conf',
        '1.59us              /usr/lib/x86_64-linux-gnu/libcurl-gnutls.so.4',
        '1.57us              /etc/hosts',
        '1.42us              /usr/lib/x86_64-linux-gnu/libgssapi_krb5.so.2',
        '1.29us              /usr/lib/x86_64-linux-gnu/libkrb5.so.3',
        '1.19us              /usr/lib/x86_64-linux-gnu/libkrb5.so.26',
        '1.17us              /etc/host.conf',
        '1.13us              /usr/lib/x86_64-linux-gnu/libgnutls.so.30',
    ],
    ('libs_test_ipv6_client', 'topfiles_time'): [
        '1.22us              /lib/x86_64-linux-gnu/libc.so.6',
    ],
}
HEADERS = {"topfiles_time": "Time                Filename            ",
           "topfiles_errors": "#Errors             Filename            "}


@pytest.mark.parametrize("chisel", sorted(HEADERS))
@pytest.mark.parametrize("name", CAPTURES)
def test_rows_match_sysdig(name, chisel):
    # topfiles_errors shows 100 rows in sysdig; no capture has that many, so --top 0 is the same.
    result = run_chisel(chisel, capture=capture(name), args={"top": 0} if chisel == "topfiles_errors" else {})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [HEADERS[chisel], RULE]
    twin = TWINS.get(name, name)
    assert sorted(lines[2:]) == sorted(SYSDIG_ROWS.get((twin, chisel), []))
