#!/bin/sh
# Regenerates filters.txt from sysdig 0.29.3: for each capture and filter below, the evt.num of
# every event sysdig prints (-p %evt.num), as "CAPTURE<TAB>FILTER<TAB>NUM NUM ...":
#   cd tests/data/fields && ./generate_filters.sh
# tests/unit/test_fields.py replays the captures through chisel's filter with the same filters.
set -eu
SCAP=../scap
while IFS='	' read -r name filter; do
    nums=$(TZ=UTC sysdig -r "$SCAP/$name.scap" -p '%evt.num' "$filter" | tr '\n' ' ' | sed 's/ $//')
    printf '%s\t%s\t%s\n' "$name" "$filter" "$nums"
done > filters.txt <<'LIST'
falco_connect_localhost	fd.port!=80
falco_connect_localhost	fd.port=80
falco_connect_localhost	fd.proto=http
falco_connect_localhost	fd.ip != 127.0.0.1
falco_connect_localhost	fd.net=0.0.0.0/8
falco_connect_localhost	fd.snet=127.0.0.0/8
falco_connect_localhost	fd.lnet=0.0.0.0/8
falco_connect_localhost	fd.rport=80
falco_connect_localhost	fd.is_server=true
falco_connect_localhost	fd.connected=true
libs_single_ipv6_conn	fd.ip=::
libs_single_ipv6_conn	fd.port=0
libs_single_ipv6_conn	fd.port=1234
libs_single_ipv6_conn	fd.lip=2001:db8::4
libs_curl_google	proc.aname=sshd
libs_curl_google	proc.apid=3200
libs_curl_google	proc.aname[0]=curl
libs_curl_google	proc.pname=curl
libs_curl_google	fd.lport=40251
libs_curl_google	fd.l4proto=udp
libs_curl_google	evt.is_open_read=true
libs_curl_google	evt.count.error=1
libs_curl_google	fd.typechar=f and evt.dir=<
libs_curl_google	evt.type.is.open=1
libs_curl_google	evt.arg.fd contains /lib
falco_psp_run_as_user_0_container	fd.rnet=10.0.0.0/8
falco_psp_run_as_user_0_container	fd.lip=10.0.2.15
falco_psp_run_as_user_0_container	evt.category=net
falco_open-multiple-files	fd.directory=/tmp and evt.type=close
LIST
